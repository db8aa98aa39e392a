//! The arithmetic of the report: percentiles, rates, pacing, error grouping, CPU time.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Nearest-rank percentile (`p` in 0..=100) of ascending `sorted` values: the smallest value
/// such that at least p % of the values are ≤ it. `None` for no values.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let p = p.clamp(0.0, 100.0);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Distribution summary of a set of values (milliseconds in the report).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub count: usize,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Summary {
    /// `None` for no values. NaNs are dropped.
    pub fn of(mut values: Vec<f64>) -> Option<Self> {
        values.retain(|v| !v.is_nan());
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let n = values.len();
        Some(Self {
            count: n,
            mean: values.iter().sum::<f64>() / n as f64,
            p50: percentile(&values, 50.0)?,
            p90: percentile(&values, 90.0)?,
            p99: percentile(&values, 99.0)?,
            max: values[n - 1],
        })
    }
}

/// `count` per `elapsed`, 0 for an empty interval.
pub fn per_second(count: usize, elapsed: Duration) -> f64 {
    let s = elapsed.as_secs_f64();
    if s > 0.0 { count as f64 / s } else { 0.0 }
}

/// Open-loop pacing: transaction `i` (0-based within the phase) is due `i / rate` seconds after
/// the phase starts. A rate of 0 means no pacing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pacer {
    rate: f64,
}

impl Pacer {
    pub fn new(rate: f64) -> Self {
        Self {
            rate: if rate.is_finite() && rate > 0.0 {
                rate
            } else {
                0.0
            },
        }
    }
    pub fn is_paced(&self) -> bool {
        self.rate > 0.0
    }
    /// When transaction `i` is due, relative to the phase start; `None` when unpaced.
    pub fn due(&self, i: usize) -> Option<Duration> {
        self.is_paced()
            .then(|| Duration::from_secs_f64(i as f64 / self.rate))
    }
    /// Length of a paced phase of `n` transactions (the due time of the last one).
    pub fn phase_length(&self, n: usize) -> Option<Duration> {
        self.due(n.saturating_sub(1))
    }
}

/// Groups error messages that differ only in numbers or hex (nonces, hashes, balances):
/// each run of digits becomes `N`, each `0x…` word `0x…`, and the result is cut at 160 chars.
pub fn normalise_error(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut chars = msg.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '0' && chars.peek() == Some(&'x') {
            chars.next();
            while chars.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
                chars.next();
            }
            out.push_str("0x…");
        } else if c.is_ascii_digit() {
            while chars.peek().is_some_and(|c| c.is_ascii_digit()) {
                chars.next();
            }
            out.push('N');
        } else {
            out.push(c);
        }
    }
    if out.chars().count() > 160 {
        out = out.chars().take(160).collect::<String>() + "…";
    }
    out
}

/// One group of errors in the report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorCount {
    pub message: String,
    pub count: usize,
}

/// The `limit` most frequent normalised error messages, most frequent first (ties by message).
pub fn top_errors<'a>(msgs: impl IntoIterator<Item = &'a str>, limit: usize) -> Vec<ErrorCount> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for m in msgs {
        *counts.entry(normalise_error(m)).or_default() += 1;
    }
    let mut v: Vec<ErrorCount> = counts
        .into_iter()
        .map(|(message, count)| ErrorCount { message, count })
        .collect();
    v.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.message.cmp(&b.message))
    });
    v.truncate(limit);
    v
}

/// CPU time (user + system) this process has used, from `/proc/self/stat` (Linux; `None`
/// elsewhere). Clock ticks are taken as 100 Hz, the value on every mainstream Linux.
pub fn process_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    parse_proc_stat_cpu(&stat)
}

fn parse_proc_stat_cpu(stat: &str) -> Option<Duration> {
    // The command name (field 2) is in parentheses and may contain spaces: split after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ")" come field 3 (state) onwards; utime and stime are fields 14 and 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(50.0));
        assert_eq!(percentile(&v, 90.0), Some(90.0));
        assert_eq!(percentile(&v, 99.0), Some(99.0));
        assert_eq!(percentile(&v, 100.0), Some(100.0));
        assert_eq!(percentile(&v, 0.0), Some(1.0));
        assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
        assert_eq!(percentile(&[], 50.0), None);
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&v, 50.0), Some(2.0));
        assert_eq!(percentile(&v, 51.0), Some(3.0));
    }

    #[test]
    fn summary_sorts_and_ignores_nan() {
        let s = Summary::of(vec![5.0, 1.0, f64::NAN, 3.0, 2.0, 4.0]).expect("values");
        assert_eq!(s.count, 5);
        assert_eq!(s.p50, 3.0);
        assert_eq!(s.max, 5.0);
        assert_eq!(s.mean, 3.0);
        assert_eq!(Summary::of(vec![]), None);
    }

    #[test]
    fn pacing_math() {
        let p = Pacer::new(200.0);
        assert!(p.is_paced());
        assert_eq!(p.due(0), Some(Duration::ZERO));
        assert_eq!(p.due(1), Some(Duration::from_millis(5)));
        assert_eq!(p.due(400), Some(Duration::from_secs(2)));
        assert_eq!(p.phase_length(201), Some(Duration::from_secs(1)));
        assert_eq!(Pacer::new(0.0).due(10), None);
        assert!(!Pacer::new(f64::NAN).is_paced());
        assert!(!Pacer::new(-1.0).is_paced());
        assert_eq!(per_second(500, Duration::from_millis(250)), 2000.0);
        assert_eq!(per_second(5, Duration::ZERO), 0.0);
    }

    #[test]
    fn errors_group_by_shape() {
        assert_eq!(
            normalise_error("nonce too low: next nonce 12, tx nonce 3"),
            "nonce too low: next nonce N, tx nonce N"
        );
        assert_eq!(
            normalise_error("known transaction: 0xdeadBEEF01"),
            "known transaction: 0x…"
        );
        let top = top_errors(
            [
                "nonce too low: 1",
                "nonce too low: 2",
                "txpool is full",
                "nonce too low: 3",
            ],
            5,
        );
        assert_eq!(
            top,
            vec![
                ErrorCount {
                    message: "nonce too low: N".into(),
                    count: 3
                },
                ErrorCount {
                    message: "txpool is full".into(),
                    count: 1
                },
            ]
        );
        assert_eq!(top_errors(["a", "b", "c"], 2).len(), 2);
    }

    #[test]
    fn proc_stat_parsing() {
        let line = "1234 (my (odd) cmd) S 1 2 3 4 5 6 7 8 9 10 150 50 0 0 20 0 1 0";
        assert_eq!(parse_proc_stat_cpu(line), Some(Duration::from_millis(2000)));
        assert_eq!(parse_proc_stat_cpu("garbage"), None);
    }
}
