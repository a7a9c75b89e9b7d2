//! When a connection's bytes arrived: the kernel's receive timestamp of each read, so a client
//! that is busy (a thousand streams on one core, a burst of requests being sent) does not add
//! the time the bytes waited in the socket to TTFT and ITL.
//!
//! On Linux every engine connection asks for `SO_TIMESTAMPNS` and is read with `recvmsg`: the
//! kernel stamps each segment as the network stack takes it in (on loopback, as the server
//! sends it), and a read reports the stamp of the last segment it returned, so the stamp is
//! never earlier than any byte of that read. The stamp is on the system clock; its age (system
//! clock now − stamp, read right after the read) is taken off the monotonic `Instant::now()`,
//! so stepping the system clock moves nothing. Elsewhere, or when the kernel gives no stamp,
//! a read is stamped `Instant::now()` as it returns, as before.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

/// The latest read of one connection: when its bytes arrived, and how many reads so far.
/// Shared between the connection's reader (hyper's connection task) and the stream reading
/// the response, which looks it up as each body chunk reaches it.
#[derive(Debug, Clone)]
pub struct Arrivals(Arc<Latest>);

#[derive(Debug)]
struct Latest {
    /// What `at_ns` counts from: when the connection was opened.
    base: Instant,
    /// Nanoseconds after `base` at which the latest read's bytes arrived.
    at_ns: AtomicU64,
    /// Reads that returned bytes; events of one read arrived together (their gap is unknowable).
    reads: AtomicU64,
}

/// The oldest kernel stamp believed: an older one (a clock stepped between the read and the
/// look at the clock) is ignored and the read stamped as it returns.
const MAX_AGE: Duration = Duration::from_secs(60);

impl Arrivals {
    pub fn new() -> Arrivals {
        Arrivals(Arc::new(Latest {
            base: Instant::now(),
            at_ns: AtomicU64::new(0),
            reads: AtomicU64::new(0),
        }))
    }

    /// A read returned bytes now; `age` is how long before now the kernel received them
    /// (`None`: no kernel stamp).
    pub fn read(&self, age: Option<Duration>) {
        let now = Instant::now();
        let at = match age {
            Some(age) if age <= MAX_AGE => now.checked_sub(age).unwrap_or(now),
            _ => now,
        };
        let ns = at.saturating_duration_since(self.0.base).as_nanos() as u64;
        self.0.at_ns.store(ns, Ordering::Relaxed);
        self.0.reads.fetch_add(1, Ordering::Release);
    }

    /// When the latest read's bytes arrived, and the number of that read (0: none yet).
    pub fn latest(&self) -> (Instant, u64) {
        let reads = self.0.reads.load(Ordering::Acquire);
        let at = self.0.base + Duration::from_nanos(self.0.at_ns.load(Ordering::Relaxed));
        (at, reads)
    }
}

/// Whether tokio's clock is the system's monotonic clock right now. It is not while paused
/// (tests): a kernel stamp's age is real time, and taken off a virtual instant it would mean
/// nothing, so a read is then stamped as it returns. A thread preempted between the two looks
/// at the clocks also answers no, and costs that one read its kernel stamp.
pub(crate) fn clock_is_real() -> bool {
    let tokio_now = Instant::now().into_std();
    let real_now = std::time::Instant::now();
    tokio_now <= real_now && real_now - tokio_now < CLOCK_SLACK
}

/// Longest gap between the two looks at the clocks in [`clock_is_real`].
const CLOCK_SLACK: Duration = Duration::from_micros(50);

impl Default for Arrivals {
    fn default() -> Self {
        Arrivals::new()
    }
}

/// Reads with the kernel's receive timestamps (Linux).
#[cfg(target_os = "linux")]
pub(crate) mod kernel {
    use std::io;
    use std::mem::MaybeUninit;
    use std::os::fd::{AsRawFd, RawFd};
    use std::time::Duration;

    /// Asks the kernel to stamp the socket's received data; false if it refuses (the reads are
    /// then stamped as they return).
    pub(crate) fn enable(socket: &impl AsRawFd) -> bool {
        let on: libc::c_int = 1;
        // SAFETY: a valid socket descriptor and a c_int option of the right size.
        let rc = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_TIMESTAMPNS,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        rc == 0
    }

    /// One `recvmsg` into `buf`: the bytes read, and how long ago the kernel received the
    /// last of them (`None` without a stamp). A non-blocking socket's `WouldBlock` comes back
    /// as an error, as from `read`.
    pub(crate) fn recv(
        fd: RawFd,
        buf: &mut [MaybeUninit<u8>],
    ) -> io::Result<(usize, Option<Duration>)> {
        // Room for one `cmsghdr` and a `timespec`, aligned as the kernel writes them.
        let mut control = [0u64; 8];
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: zeroed is a valid msghdr; the pointers set below outlive the call.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        // SAFETY: `iov` points at `buf.len()` writable bytes, `control` at its own size.
        let n = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_DONTWAIT) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let now = realtime();
        Ok((n as usize, stamp(&msg).and_then(|at| age(now, at))))
    }

    /// The `SCM_TIMESTAMPNS` of a received message, if it has one.
    fn stamp(msg: &libc::msghdr) -> Option<libc::timespec> {
        // SAFETY: the CMSG_* walk stays inside `msg_control`/`msg_controllen`, which recvmsg
        // filled and sized; the payload is read unaligned.
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(msg);
            while !cmsg.is_null() {
                if (*cmsg).cmsg_level == libc::SOL_SOCKET
                    && (*cmsg).cmsg_type == libc::SCM_TIMESTAMPNS
                {
                    let data = libc::CMSG_DATA(cmsg).cast::<libc::timespec>();
                    return Some(std::ptr::read_unaligned(data));
                }
                cmsg = libc::CMSG_NXTHDR(msg, cmsg);
            }
        }
        None
    }

    fn realtime() -> libc::timespec {
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: a valid clock id and a timespec to write.
        unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut now) };
        now
    }

    /// `now − at`, or `None` when `at` is later (the clock was stepped back in between).
    pub(crate) fn age(now: libc::timespec, at: libc::timespec) -> Option<Duration> {
        let ns = |t: libc::timespec| t.tv_sec as i128 * 1_000_000_000 + t.tv_nsec as i128;
        let age = ns(now) - ns(at);
        (age >= 0).then(|| Duration::from_nanos(age.min(u64::MAX as i128) as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_read_is_stamped_its_age_before_now_and_counted() {
        let arrivals = Arrivals::new();
        assert_eq!(arrivals.latest().1, 0);
        tokio::time::advance(Duration::from_millis(50)).await;
        arrivals.read(Some(Duration::from_millis(30)));
        let (at, reads) = arrivals.latest();
        assert_eq!(reads, 1);
        assert_eq!(
            at.duration_since(arrivals.0.base),
            Duration::from_millis(20)
        );
        arrivals.read(None);
        let (at, reads) = arrivals.latest();
        assert_eq!(reads, 2);
        assert_eq!(at, Instant::now());
    }

    #[tokio::test(start_paused = true)]
    async fn an_implausible_age_is_ignored_and_no_read_is_before_the_connection() {
        let arrivals = Arrivals::new();
        tokio::time::advance(Duration::from_secs(10)).await;
        arrivals.read(Some(MAX_AGE + Duration::from_secs(1)));
        assert_eq!(arrivals.latest().0, Instant::now());
        arrivals.read(Some(Duration::from_secs(30)));
        assert_eq!(arrivals.latest().0, arrivals.0.base);
    }

    #[tokio::test]
    async fn the_running_clock_is_real() {
        assert!(clock_is_real());
    }

    #[tokio::test(start_paused = true)]
    async fn the_paused_clock_is_not_behind_or_ahead() {
        let later = std::time::Instant::now() + Duration::from_millis(1);
        while std::time::Instant::now() < later {
            std::hint::spin_loop();
        }
        assert!(!clock_is_real(), "behind the real clock");
        tokio::time::advance(Duration::from_millis(5)).await;
        assert!(!clock_is_real(), "ahead of the real clock");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn an_age_is_now_minus_the_stamp_and_none_from_the_future() {
        let t = |tv_sec, tv_nsec| libc::timespec { tv_sec, tv_nsec };
        assert_eq!(
            kernel::age(t(10, 200), t(9, 999_999_900)),
            Some(Duration::from_nanos(300))
        );
        assert_eq!(kernel::age(t(10, 0), t(10, 0)), Some(Duration::ZERO));
        assert_eq!(kernel::age(t(10, 0), t(10, 1)), None);
    }
}
