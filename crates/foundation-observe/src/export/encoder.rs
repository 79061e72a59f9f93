//! The Prometheus text exposition format (version 0.0.4), written directly.
//!
//! Samples of one family may be written by several sources in any order; the encoder keeps
//! each family's lines together and writes `# HELP` and `# TYPE` once. Each family holds at
//! most `max_series` label sets: the rest fold into one `{overflow="true"}` series (counters
//! and gauges summed; summaries keep `_sum` and `_count`), and the number folded is itself
//! exported as `foundation_metrics_folded_series`.

use std::collections::HashMap;
use std::fmt::Write;

/// The type of a metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Only goes up (resets on restart).
    Counter,
    /// Goes up and down.
    Gauge,
    /// Quantiles over a sliding window plus cumulative `_sum` and `_count`.
    Summary,
}

impl MetricKind {
    const fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Summary => "summary",
        }
    }
}

/// The name of the family counting label sets folded by the series limit.
pub const FOLDED_SERIES: &str = "foundation_metrics_folded_series";

struct Family {
    name: &'static str,
    help: &'static str,
    kind: MetricKind,
    body: String,
    series: usize,
    overflow: Option<Overflow>,
}

#[derive(Default)]
struct Overflow {
    value: f64,
    sum: f64,
    count: f64,
}

/// Collects families and writes the exposition text.
pub struct TextEncoder {
    families: Vec<Family>,
    index: HashMap<&'static str, usize>,
    max_series: usize,
    folded: u64,
}

impl std::fmt::Debug for TextEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextEncoder")
            .field("families", &self.families.len())
            .field("folded", &self.folded)
            .finish()
    }
}

impl TextEncoder {
    /// An encoder keeping at most `max_series` label sets per family (at least 1).
    pub fn new(max_series: usize) -> TextEncoder {
        TextEncoder {
            families: Vec::new(),
            index: HashMap::new(),
            max_series: max_series.max(1),
            folded: 0,
        }
    }

    /// Writes one counter sample.
    pub fn counter(
        &mut self,
        name: &'static str,
        help: &'static str,
        labels: &[(&str, &str)],
        value: f64,
    ) {
        self.single(name, help, MetricKind::Counter, labels, value);
    }

    /// Writes one gauge sample.
    pub fn gauge(
        &mut self,
        name: &'static str,
        help: &'static str,
        labels: &[(&str, &str)],
        value: f64,
    ) {
        self.single(name, help, MetricKind::Gauge, labels, value);
    }

    /// Writes one summary series: its quantiles `(q, value)`, `_sum` and `_count`.
    pub fn summary(
        &mut self,
        name: &'static str,
        help: &'static str,
        labels: &[(&str, &str)],
        quantiles: &[(&str, f64)],
        sum: f64,
        count: f64,
    ) {
        let Some(family) = self.admit(name, help, MetricKind::Summary) else {
            let overflow = self.overflow(name);
            overflow.sum += sum;
            overflow.count += count;
            return;
        };
        for (q, value) in quantiles {
            write_sample(
                &mut family.body,
                name,
                "",
                labels,
                Some(("quantile", q)),
                *value,
            );
        }
        write_sample(&mut family.body, name, "_sum", labels, None, sum);
        write_sample(&mut family.body, name, "_count", labels, None, count);
    }

    /// Label sets folded so far by the series limit.
    pub fn folded(&self) -> u64 {
        self.folded
    }

    /// The exposition text.
    pub fn finish(mut self) -> String {
        let folded = self.folded as f64;
        self.gauge(
            FOLDED_SERIES,
            "Label sets folded into overflow series by the per-family series limit in this scrape.",
            &[],
            folded,
        );
        let size = self
            .families
            .iter()
            .map(|f| f.body.len() + f.help.len() + 64)
            .sum();
        let mut out = String::with_capacity(size);
        for f in &mut self.families {
            out.push_str("# HELP ");
            out.push_str(f.name);
            out.push(' ');
            escape_help(&mut out, f.help);
            out.push_str("\n# TYPE ");
            out.push_str(f.name);
            out.push(' ');
            out.push_str(f.kind.as_str());
            out.push('\n');
            out.push_str(&f.body);
            if let Some(o) = f.overflow.take() {
                let labels = [("overflow", "true")];
                if f.kind == MetricKind::Summary {
                    write_sample(&mut out, f.name, "_sum", &labels, None, o.sum);
                    write_sample(&mut out, f.name, "_count", &labels, None, o.count);
                } else {
                    write_sample(&mut out, f.name, "", &labels, None, o.value);
                }
            }
        }
        out
    }

    fn single(
        &mut self,
        name: &'static str,
        help: &'static str,
        kind: MetricKind,
        labels: &[(&str, &str)],
        value: f64,
    ) {
        match self.admit(name, help, kind) {
            Some(family) => write_sample(&mut family.body, name, "", labels, None, value),
            None => self.overflow(name).value += value,
        }
    }

    /// The family, if it can take one more series; otherwise counts a fold.
    fn admit(
        &mut self,
        name: &'static str,
        help: &'static str,
        kind: MetricKind,
    ) -> Option<&mut Family> {
        let i = *self.index.entry(name).or_insert_with(|| {
            self.families.push(Family {
                name,
                help,
                kind,
                body: String::new(),
                series: 0,
                overflow: None,
            });
            self.families.len() - 1
        });
        let family = &mut self.families[i];
        debug_assert_eq!(family.kind, kind, "family {name} written with two types");
        if family.series >= self.max_series {
            self.folded += 1;
            return None;
        }
        family.series += 1;
        Some(family)
    }

    fn overflow(&mut self, name: &'static str) -> &mut Overflow {
        let i = self.index[name];
        self.families[i]
            .overflow
            .get_or_insert_with(Overflow::default)
    }
}

fn write_sample(
    out: &mut String,
    name: &str,
    suffix: &str,
    labels: &[(&str, &str)],
    extra: Option<(&str, &str)>,
    value: f64,
) {
    out.push_str(name);
    out.push_str(suffix);
    if !labels.is_empty() || extra.is_some() {
        out.push('{');
        for (i, (k, v)) in labels.iter().chain(extra.as_ref()).enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(k);
            out.push_str("=\"");
            escape_label_value(out, v);
            out.push('"');
        }
        out.push('}');
    }
    out.push(' ');
    write_value(out, value);
    out.push('\n');
}

fn write_value(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value == f64::INFINITY {
        out.push_str("+Inf");
    } else if value == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        let _ = write!(out, "{value}");
    }
}

fn escape_label_value(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn escape_help(out: &mut String, help: &str) {
    for c in help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_written_by_several_sources_stay_together() {
        let mut e = TextEncoder::new(10);
        e.gauge("a", "A.", &[("x", "1")], 1.0);
        e.gauge("b", "B.", &[], 2.0);
        e.gauge("a", "A.", &[("x", "2")], 3.0);
        let text = e.finish();
        assert!(
            text.starts_with(
                "# HELP a A.\n# TYPE a gauge\na{x=\"1\"} 1\na{x=\"2\"} 3\n# HELP b B.\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn label_values_and_help_are_escaped_and_special_values_spelled() {
        let mut e = TextEncoder::new(10);
        e.gauge("g", "line\\one\ntwo", &[("v", "a\"b\\c\nd")], f64::NAN);
        e.gauge("h", "h", &[], f64::INFINITY);
        let text = e.finish();
        assert!(text.contains("# HELP g line\\\\one\\ntwo\n"), "{text}");
        assert!(text.contains("g{v=\"a\\\"b\\\\c\\nd\"} NaN\n"), "{text}");
        assert!(text.contains("h +Inf\n"));
    }

    #[test]
    fn series_beyond_the_limit_fold_and_are_counted() {
        let mut e = TextEncoder::new(2);
        for i in 0..5 {
            e.counter("c", "C.", &[("i", &i.to_string())], 1.0);
        }
        e.summary("s", "S.", &[("i", "0")], &[("0.5", 1.0)], 2.0, 3.0);
        e.summary("s", "S.", &[("i", "1")], &[("0.5", 1.0)], 2.0, 3.0);
        e.summary("s", "S.", &[("i", "2")], &[("0.5", 1.0)], 4.0, 5.0);
        assert_eq!(e.folded(), 4);
        let text = e.finish();
        assert!(text.contains("c{overflow=\"true\"} 3\n"), "{text}");
        assert!(
            text.contains("s_sum{overflow=\"true\"} 4\ns_count{overflow=\"true\"} 5\n"),
            "{text}"
        );
        assert!(
            text.contains("foundation_metrics_folded_series 4\n"),
            "{text}"
        );
    }
}
