//! `levels = "auto"`: the sweep driven by each engine's [`Search`]. Every engine walks the
//! same doubling grid from `start` (so curves share x values); bisection points are its own.
//! Sequential order runs one engine's whole search, then the next; interleaved order runs a
//! round of every engine's next level (trial t on every engine before t + 1) at a time.

use super::search::Search;
use super::sweep::{Driver, Gate, Step};
use crate::config::{SweepMode, SweepOrder};

impl Driver {
    pub(super) async fn run_auto(&mut self, gate: &mut Gate) -> std::io::Result<()> {
        let sweep = &self.plan.config.sweep;
        let slo_set = self.plan.config.slo.any();
        let mut auto = sweep.auto.clone();
        if let (SweepMode::Concurrency, Some(n)) = (sweep.mode, sweep.requests_per_level) {
            // A level with fewer requests than its concurrency never runs at it.
            auto.max = auto.max.min(n as f64);
        }
        let mut searches: Vec<Search> = self
            .plan
            .engines
            .iter()
            .map(|_| Search::new(&auto, sweep.mode, slo_set))
            .collect();
        let order = sweep.order;
        let trials = sweep.trials.max(1);
        'run: loop {
            let active: Vec<usize> = (0..searches.len())
                .filter(|&e| !searches[e].is_done() && !gate.skipped[e])
                .collect();
            let round: Vec<(usize, f64)> = match order {
                SweepOrder::Sequential => active.first().copied().into_iter().collect(),
                SweepOrder::Interleaved => active,
            }
            .into_iter()
            .filter_map(|e| Some((e, searches[e].next_level()?)))
            .collect();
            if round.is_empty() {
                break;
            }
            for trial in 1..=trials {
                for &(engine, level) in &round {
                    if searches[engine].is_done() {
                        continue;
                    }
                    let level_index = self.level_index_of(level);
                    self.search_state = searches[engine].describe();
                    match self.step(gate, 0, engine, level_index, trial).await? {
                        Step::Stop => break 'run,
                        Step::Ran | Step::Passed => {}
                    }
                    if gate.skipped[engine] {
                        searches[engine].end();
                    }
                }
            }
            for &(engine, level) in &round {
                let level_index = self.level_index_of(level);
                let search = &mut searches[engine];
                if !search.is_done() {
                    let at = self.level_indexes[engine]
                        .iter()
                        .position(|&i| i == level_index);
                    match at {
                        Some(at) => {
                            let summary = self.report.engines[engine].levels[at].clone();
                            search.record(level, &summary);
                        }
                        // Nothing measured (the engine was skipped meanwhile).
                        None => search.end(),
                    }
                }
                self.report.engines[engine].search = Some(search.result());
            }
            self.writer.write_report(&self.report)?;
        }
        // A run stopped mid-search: every search that was still going has ended.
        for (engine, search) in searches.iter_mut().enumerate() {
            search.end();
            self.report.engines[engine].search = Some(search.result());
        }
        self.search_state = None;
        Ok(())
    }

    /// The position of `level` in the run's levels, added (and written into the report's
    /// workload) when it is new.
    fn level_index_of(&mut self, level: f64) -> usize {
        match self.levels.iter().position(|&l| l == level) {
            Some(i) => i,
            None => {
                self.levels.push(level);
                self.report.workload.levels = self.levels.clone();
                self.levels.len() - 1
            }
        }
    }
}
