//! One level's lifecycle: warmup, the measured phase, its summary (health, steady-state
//! checks), then results written and the front ends told.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::phase::PhaseKind;
use super::slots::SlotTimes;
use super::sweep::Driver;
use crate::config::SweepMode;
use crate::events::{Event, RunState};
use crate::host::sampler::HostSampler;
use crate::host::warnings::{busy_box, idle_engines};
use crate::metrics::checks::level_warnings;
use crate::metrics::health::HealthMonitor;
use crate::metrics::recorder::{LevelRecorder, LevelRun};
use crate::results::host::ClientState;
use crate::results::model::{LevelStatus, LevelSummary};
use crate::results::writer::Attempt;
use crate::server_metrics::level::{server_warning, summarise};
use crate::server_metrics::scraper::LevelTarget;
use crate::shard::hlog;
use crate::stats::trials::combine;

/// Why a level cut during its warmup is kept in results.
pub const SKIPPED_DURING_WARMUP: &str = "skipped during warmup";

impl Driver {
    /// Runs trial `self.trial` of the level; true when it was cut short (a skip, quit or
    /// signal).
    pub(super) async fn run_level(
        &mut self,
        engine: usize,
        level_index: usize,
    ) -> std::io::Result<bool> {
        let plan = self.plan.clone();
        let sweep = &plan.config.sweep;
        let level = self.levels[level_index];
        // In shard mode this shard's part (the label keeps the level's value).
        let shard = plan.shard.map(|p| p.shard);
        let max_concurrency = match (sweep.mode, shard) {
            (SweepMode::Concurrency, None) => level as u32,
            (SweepMode::Concurrency, Some(s)) => s.share(level as u64) as u32,
            (SweepMode::Rate, None) | (SweepMode::Rate, Some(_)) if sweep.max_concurrency == 0 => 0,
            (SweepMode::Rate, None) => sweep.max_concurrency,
            (SweepMode::Rate, Some(s)) => s.share(u64::from(sweep.max_concurrency)).max(1) as u32,
        };
        let mut label = match sweep.mode {
            SweepMode::Concurrency => format!("C={level}"),
            SweepMode::Rate if plan.schedule.is_some() => format!("trace at {level}× speed"),
            SweepMode::Rate => format!("{level} req/s"),
        };
        if sweep.trials > 1 {
            // A warning per trial says which.
            label.push_str(&format!(" (trial {}/{})", self.trial, sweep.trials));
        }
        // Shard mode: the slot's times, which `step` waited for.
        let slot = self.slot.take();
        if let Some(slot) = slot.filter(|s| s.share == 0.0) {
            // C below the shard count: other shards hold this level's requests.
            return self.no_share(engine, level_index, slot, &label).await;
        }
        // A warmup by count, by time, or both (whichever ends first); in shard mode, what
        // is left of the slot's warmup.
        let (warmup, warmup_time) = match slot {
            Some(slot) => (u64::MAX, slot.warmup),
            None => (
                match sweep.warmup_requests {
                    0 => u64::MAX,
                    n => n,
                },
                sweep.warmup_s.map(Duration::from_secs_f64),
            ),
        };
        let warm_up = match slot {
            Some(slot) => slot.warmup.is_some(),
            None => sweep.warmup_requests > 0 || sweep.warmup_s.is_some(),
        };
        // Time-bound levels have no count: `u64::MAX` in the phase, 0 ("unknown") on the bus.
        let limit = plan.request_limit(level);
        if warm_up {
            self.phase(engine, level_index, warmup, PhaseKind::Warmup, warmup_time)
                .await?;
            if std::mem::take(&mut self.stops.level) {
                // Cut during warmup: nothing measured, but the level leaves a trace.
                let mut summary = LevelRecorder::default().summary(LevelRun {
                    level,
                    max_concurrency,
                    cut_short: true,
                    ..LevelRun::default()
                });
                summary.skipped_reason = Some(SKIPPED_DURING_WARMUP.into());
                self.keep_level(engine, level_index, summary, true).await?;
                return Ok(true);
            }
        }
        self.emit(Event::LevelStarted {
            engine,
            level_index,
            level,
            planned: limit.unwrap_or(0),
            trial: self.trial,
            trials: sweep.trials,
            search: self.search_state.clone(),
        })
        .await;
        let health = HealthMonitor::start();
        let host = if plan.config.host.sample {
            Some(HostSampler::start(self.host_targets.clone(), engine)?)
        } else {
            None
        };
        let url = self.metrics_urls[engine].clone();
        let scraping = self.scraper.has_work(url.as_deref()).then(|| {
            self.scraper.start(LevelTarget {
                engine,
                name: plan.engines[engine].name.clone(),
                url,
                level_index,
                level,
            })
        });
        // Shard mode: the measured phase ends with the slot's window, however late it began.
        let started = SystemTime::now();
        let time = match slot {
            Some(slot) => {
                self.record_slot(
                    engine,
                    level_index,
                    slot.window_start,
                    slot.window_end,
                    slot.share,
                    Some(started),
                );
                Some(slot.window_end.duration_since(started).unwrap_or_default())
            }
            None => sweep.duration_s.map(Duration::from_secs_f64),
        };
        let measured = self
            .phase(
                engine,
                level_index,
                limit.unwrap_or(u64::MAX),
                PhaseKind::Measured,
                time,
            )
            .await?;
        let measured_for = SystemTime::now()
            .duration_since(started)
            .unwrap_or_default();
        let health = health.finish().await;
        let host = match host {
            Some(sampler) => sampler.finish().await,
            None => None,
        };
        let scrapes = match scraping {
            Some(scraping) => scraping.finish().await,
            None => Vec::new(),
        };
        let cut_short = std::mem::take(&mut self.stops.level);
        let mut summary = measured.recorder.summary(LevelRun {
            level,
            max_concurrency,
            duration_s: measured.duration_s,
            cut_short,
            connections_opened: measured.connections_opened,
            drain_from_us: measured.drain_from_us,
        });
        let client_state = health.state(host.as_ref());
        health.apply(client_state, &mut summary);
        summary.server = summarise(&scrapes, summary.mean_ttft_ms, summary.total_output_tokens);
        if let Some(schema) = scrapes.iter().find_map(|s| s.schema) {
            self.report.engines[engine].server_metrics_schema = Some(schema.as_str().into());
        }
        let name = &plan.engines[engine].name;
        // The scraper's warnings were on screen already; results keep them too.
        for (from, text) in self.scraper.take_warnings() {
            let from = &plan.engines[from].name;
            self.report.warnings.push(format!("{from}: {text}"));
        }
        let mut warnings: Vec<String> = health
            .warning(client_state, host.as_ref(), &label)
            .into_iter()
            .collect();
        if let Some(host) = &host {
            warnings.extend(idle_engines(host, name, &label));
            // A starved client's warning names the busiest process already.
            if client_state != ClientState::Starved {
                warnings.extend(busy_box(host, &label));
            }
        }
        summary.host = host;
        if let Some(info) = &self.report.shard {
            let comment = format!(
                "llmsweep {} run {} shard {}/{} engine {:?} level {label}",
                env!("CARGO_PKG_VERSION"),
                self.report.run_name,
                info.index,
                info.count,
                name
            );
            let trial = (sweep.trials > 1).then_some(self.trial);
            let histograms = measured.recorder.histograms();
            self.writer.write_hlog(
                &hlog::file_name(engine, level_index, trial),
                &comment,
                started,
                measured_for,
                &histograms,
            )?;
        }
        if !cut_short {
            warnings.extend(level_warnings(&summary, &label, sweep.mode));
            warnings.extend(
                summary
                    .server
                    .as_ref()
                    .and_then(|s| server_warning(s, summary.mean_ttft_ms, &label)),
            );
        }
        for text in warnings {
            self.report.warnings.push(format!("{name}: {text}"));
            self.emit(Event::Warning {
                engine: Some(engine),
                text,
            })
            .await;
        }
        self.keep_level(engine, level_index, summary, cut_short)
            .await?;
        Ok(cut_short)
    }

    /// Puts a finished level (trial) into the report in sweep order, writes results.json,
    /// and tells the front ends. With trials, the level's entry is the combination of its
    /// trials so far, replaced after each.
    pub(super) async fn keep_level(
        &mut self,
        engine: usize,
        level_index: usize,
        mut summary: LevelSummary,
        cut_short: bool,
    ) -> std::io::Result<()> {
        if self.plan.config.sweep.trials > 1 {
            summary.trial = Some(self.trial);
            let trials = self.trial_runs.entry((engine, level_index)).or_default();
            trials.push(summary);
            summary = combine(trials);
        }
        let at = self.level_indexes[engine].partition_point(|&i| i < level_index);
        let again = self.level_indexes[engine].get(at) == Some(&level_index)
            && !self.pending[engine].contains(&level_index);
        if again {
            // A later trial of a level this run measured already.
            self.report.engines[engine].levels[at] = summary.clone();
        } else if self.pending[engine].contains(&level_index) {
            // A resumed run's saved partial level: a re-run that ran to its end replaces it;
            // one cut short again keeps whichever attempt finished more requests. Its lines
            // in requests.jsonl go with it, before results.json stops counting them.
            let finished = |s: &LevelSummary| s.completed + s.failed;
            let saved = &self.report.engines[engine].levels[at];
            let replace =
                summary.status != LevelStatus::Skipped || finished(&summary) > finished(saved);
            let attempt = if replace {
                Attempt::Saved
            } else {
                Attempt::New
            };
            let plan = self.plan.clone();
            self.writer.drop_level_lines(
                &plan.engines[engine].name,
                level_index,
                &self.levels,
                attempt,
            )?;
            if replace {
                self.report.engines[engine].levels[at] = summary.clone();
                self.pending[engine].retain(|&i| i != level_index);
            }
        } else {
            self.level_indexes[engine].insert(at, level_index);
            self.report.engines[engine]
                .levels
                .insert(at, summary.clone());
        }
        let warnings = self.after_level(engine, &summary);
        self.writer.write_report(&self.report)?;
        for text in warnings {
            self.emit(Event::Warning {
                engine: Some(engine),
                text,
            })
            .await;
        }
        self.emit(Event::LevelFinished {
            engine,
            level_index,
            summary: Arc::new(summary),
        })
        .await;
        // After a cut the run goes on (unless it is stopping) in the state the user left.
        if cut_short && !self.stops.run {
            let state = if *self.paused.borrow() {
                RunState::Paused
            } else {
                RunState::Running
            };
            self.emit(Event::State(state)).await;
        }
        Ok(())
    }
}

impl Driver {
    /// Shard mode: a level this shard sends nothing at (its share of C is 0, or it reached
    /// the slot after the window): kept as skipped, with `reason`.
    pub(super) async fn keep_unmeasured(
        &mut self,
        engine: usize,
        level_index: usize,
        reason: String,
    ) -> std::io::Result<()> {
        let mut summary = LevelRecorder::default().summary(LevelRun {
            level: self.levels[level_index],
            ..LevelRun::default()
        });
        summary.status = LevelStatus::Skipped;
        summary.skipped_reason = Some(reason);
        self.keep_level(engine, level_index, summary, false).await
    }

    async fn no_share(
        &mut self,
        engine: usize,
        level_index: usize,
        slot: SlotTimes,
        label: &str,
    ) -> std::io::Result<bool> {
        let start = slot.window_start;
        self.record_slot(
            engine,
            level_index,
            start,
            slot.window_end,
            0.0,
            Some(start),
        );
        let reason = match self.plan.shard {
            Some(plan) => format!(
                "no share: {label} split over {} shards leaves shard {} none",
                plan.shard.count, plan.shard.index
            ),
            None => "no share".into(),
        };
        self.keep_unmeasured(engine, level_index, reason).await?;
        Ok(false)
    }
}
