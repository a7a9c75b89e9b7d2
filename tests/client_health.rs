//! The `client_limited` flag and `client_state` (README: the loop lag p99 above 5 ms, or the
//! client's CPU above 85 % of a core per runtime thread): the real monitor on tokio's paused
//! clock, where each probe's lateness is set exactly by advancing the clock, and CPU is real
//! work over a known (virtual) wall time. Without a host report a late loop is `late`; the
//! host's part (`starved`) is tested in `metrics::health`'s unit tests and tests/host.rs.

use std::time::Duration;

use llmsweep::metrics::health::{
    process_cpu_seconds, ClientHealth, HealthMonitor, CPU_SHARE_LIMIT, LAG_LIMIT_MS,
};
use llmsweep::results::host::ClientState;

/// The monitor's verdict with no host report (as off Linux).
fn state(h: &ClientHealth) -> ClientState {
    h.state(None)
}

/// The monitor's probe period.
const PROBE: Duration = Duration::from_millis(10);

/// Lets the probe task run (it re-arms its timer when it wakes).
async fn settle() {
    for _ in 0..4 {
        tokio::task::yield_now().await;
    }
}

/// Runs the monitor over probes that wake `lags_us` late, one each, in order; `during` runs
/// (for real) before the monitor is read.
async fn health(lags_us: &[u64], during: impl FnOnce()) -> ClientHealth {
    let monitor = HealthMonitor::start();
    settle().await;
    for &lag in lags_us {
        tokio::time::advance(PROBE + Duration::from_micros(lag)).await;
        settle().await;
    }
    during();
    monitor.finish().await
}

/// A punctual loop's lateness. (Not 0: tokio's timer wheel rounds deadlines up to the next
/// millisecond, so a probe is only sure to wake once the clock is a full millisecond past its
/// deadline; it then reads its lateness exactly.)
const PUNCTUAL_US: u64 = 1_000;

/// `n` punctual probes, then `late` probes `lag_us` late.
fn lags(n: usize, late: usize, lag_us: u64) -> Vec<u64> {
    let mut v = vec![PUNCTUAL_US; n];
    v.extend(std::iter::repeat_n(lag_us, late));
    v
}

fn cores() -> f64 {
    std::thread::available_parallelism().map_or(1, |n| n.get()) as f64
}

#[tokio::test(start_paused = true)]
async fn on_time_probes_and_little_cpu_are_not_limited() {
    let h = health(&lags(200, 0, 0), || {}).await;
    assert!((1.0..1.1).contains(&h.loop_lag_p99_ms), "{h:?}");
    assert!(h.cpu_cores < CPU_SHARE_LIMIT * cores(), "{h:?}");
    assert_eq!(state(&h), ClientState::Fine, "{h:?}");
    assert_eq!(h.warning(state(&h), None, "C=8"), None);
}

/// The lag limit is 5 ms on the p99: 4.9 ms is under it, 5.1 ms over it (the histogram
/// keeps 2 significant digits, ~32 µs here, so exactly 5.000 ms reads as just over).
#[tokio::test(start_paused = true)]
async fn loop_lag_p99_over_5_ms_is_limited_and_under_is_not() {
    assert_eq!(LAG_LIMIT_MS, 5.0);
    // 100 on time, 3 late: the late ones are above the 99th percentile.
    let under = health(&lags(100, 3, 4_900), || {}).await;
    assert!((4.9..5.0).contains(&under.loop_lag_p99_ms), "{under:?}");
    assert_eq!(state(&under), ClientState::Fine, "{under:?}");
    let over = health(&lags(100, 3, 5_100), || {}).await;
    assert!((5.1..5.2).contains(&over.loop_lag_p99_ms), "{over:?}");
    assert_eq!(state(&over), ClientState::Late, "{over:?}");
    let text = over.warning(state(&over), None, "C=8").expect("a warning");
    assert!(
        text.starts_with("C=8: the client's event loop ran late (p99 5.1 ms)"),
        "{text}"
    );
    // The p99, not the max: one late probe in 200 does not flag the level.
    let one = health(&lags(200, 1, 50_000), || {}).await;
    assert!(one.loop_lag_p99_ms < 1.1, "{one:?}");
    assert_eq!(state(&one), ClientState::Fine, "{one:?}");
}

/// CPU over 85 % of a core per runtime thread flags the level as busy even with a punctual
/// loop: every core busy for 0.3 s of CPU each while 0.22 s of (virtual) wall time pass is
/// 1.4 cores per core, and this test's runtime has one thread.
#[tokio::test(start_paused = true)]
async fn cpu_over_85_percent_of_a_core_per_runtime_thread_is_busy() {
    assert_eq!(CPU_SHARE_LIMIT, 0.85);
    let burn = || {
        let target = process_cpu_seconds() + 0.3 * cores();
        std::thread::scope(|s| {
            for _ in 0..cores() as usize {
                s.spawn(|| {
                    let mut x = 0u64;
                    while process_cpu_seconds() < target {
                        for _ in 0..10_000 {
                            x = x.wrapping_add(std::hint::black_box(1));
                        }
                    }
                    x
                });
            }
        });
    };
    let h = health(&lags(20, 0, 0), burn).await;
    assert!(h.loop_lag_p99_ms < 1.1, "{h:?}");
    assert!(h.cpu_cores > CPU_SHARE_LIMIT * cores(), "{h:?}");
    assert_eq!(h.runtime_threads, 1, "a current-thread runtime");
    assert_eq!(state(&h), ClientState::Busy, "{h:?}");
}

/// A level shorter than 10 probes says nothing either way, however late they were.
#[tokio::test(start_paused = true)]
async fn fewer_than_ten_probes_never_flag() {
    let h = health(&lags(0, 9, 50_000), || {}).await;
    assert!(h.loop_lag_p99_ms > 40.0, "{h:?}");
    assert_eq!(state(&h), ClientState::Fine, "{h:?}");
    let h = health(&lags(0, 10, 50_000), || {}).await;
    assert_eq!(state(&h), ClientState::Late, "{h:?}");
}
