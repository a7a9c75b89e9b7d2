//! The run's preflight: before an engine's first level, the checks of `crate::preflight`
//! (all but the output-length one) with one probe request that no level counts. Warnings go
//! to the screen and the results; a hard failure skips the engine, which stays in results
//! with its reason.

use std::time::Duration;

use super::sweep::Driver;
use crate::events::Event;
use crate::preflight::{self, KeyState, Settings};

/// How an engine's preflight ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Preflight {
    /// Sweep it (warnings, if any, were given).
    Go,
    /// A hard failure: its `skipped_reason` is set and results are written.
    Failed,
    /// A skip-engine or quit arrived while the checks ran (`stops` says which).
    Stopped,
}

impl Driver {
    /// Checks `engine` before its first level; controls that arrive meanwhile are applied.
    pub(super) async fn preflight(&mut self, engine: usize) -> std::io::Result<Preflight> {
        let plan = self.plan.clone();
        let settings = Settings::for_sweep(
            &plan.config.sweep,
            Duration::from_millis(plan.config.metrics.timeout_ms),
            preflight::request_id(&self.report.run_name, engine),
        );
        // The plan refused to start without a configured key, so it is set when it is there.
        let key = match (
            &plan.config.engines[engine].api_key_env,
            &plan.engines[engine].key,
        ) {
            (None, _) => KeyState::NotConfigured,
            (Some(var), Some(_)) => KeyState::Set(var.clone()),
            (Some(var), None) => KeyState::Missing(var.clone()),
        };
        let checks = preflight::check_engine(&plan, engine, &key, &settings);
        let mut checks = std::pin::pin!(checks);
        let checks = loop {
            tokio::select! {
                checks = &mut checks => break checks,
                control = self.control.recv(), if self.control_open => match control {
                    Some(control) => {
                        self.apply(control, None).await;
                        if self.stops.run || self.stops.engine {
                            return Ok(Preflight::Stopped);
                        }
                    }
                    None => self.control_open = false,
                },
            }
        };
        let name = &plan.engines[engine].name;
        if !checks.metrics_usable {
            // The warning says why; the levels do not poll a dead endpoint.
            self.metrics_urls[engine] = None;
        }
        for text in checks.warnings() {
            self.report.warnings.push(format!("{name}: {text}"));
            self.emit(Event::Warning {
                engine: Some(engine),
                text,
            })
            .await;
        }
        let Some(reason) = checks.skipped_reason() else {
            return Ok(Preflight::Go);
        };
        self.report.engines[engine].skipped_reason = Some(reason.clone());
        self.writer.write_report(&self.report)?;
        let fix = checks
            .hard_failure()
            .and_then(|c| c.fix.as_deref())
            .map(|fix| format!(" — fix: {fix}; not swept (`--no-check` sweeps it anyway)"))
            .unwrap_or_default();
        self.emit(Event::Warning {
            engine: Some(engine),
            text: format!("{reason}{fix}"),
        })
        .await;
        Ok(Preflight::Failed)
    }
}
