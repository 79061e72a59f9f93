//! Inhibition: a firing alert mutes others, e.g. a critical alert mutes the warnings of the
//! same service.
//!
//! A rule mutes a *target* alert (matching `target_matchers`) while some other firing
//! *source* alert (matching `source_matchers`) has the same values for every label in
//! `equal`. An alert never inhibits itself. Muted alerts are not delivered, and are shown as
//! inhibited with the fingerprints of the alerts muting them.
//!
//! ```toml
//! [[inhibit_rules]]
//! source_matchers = ['severity="critical"']
//! target_matchers = ['severity="warning"']
//! equal = ["service"]
//! ```

use foundation_core::{Result, Validator};
use serde::{Deserialize, Serialize};

use super::labels::{Fingerprint, Labels, is_label_name};
use super::matcher::{Matcher, MatcherSpec, all_match, compile_all};

/// One inhibition rule, as configured.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InhibitRuleConfig {
    /// What a muting alert matches (at least one matcher).
    pub source_matchers: Vec<MatcherSpec>,
    /// What a muted alert matches (at least one matcher).
    pub target_matchers: Vec<MatcherSpec>,
    /// Labels the two must have equal values for (a label both lack counts as equal).
    pub equal: Vec<String>,
}

impl InhibitRuleConfig {
    /// A rule: alerts matching `source` mute those matching `target` with the same `equal`
    /// labels. Matchers in string form.
    pub fn new(source: &[&str], target: &[&str], equal: &[&str]) -> InhibitRuleConfig {
        let specs = |m: &[&str]| m.iter().map(|s| MatcherSpec::Text(s.to_string())).collect();
        InhibitRuleConfig {
            source_matchers: specs(source),
            target_matchers: specs(target),
            equal: equal.iter().map(|s| s.to_string()).collect(),
        }
    }

    pub(crate) fn validate_into(&self, v: &mut Validator, path: &str) {
        for (name, specs) in [
            ("source_matchers", &self.source_matchers),
            ("target_matchers", &self.target_matchers),
        ] {
            v.check(
                !specs.is_empty(),
                &format!("{path}.{name}"),
                "at least one matcher is needed",
            );
            for (i, spec) in specs.iter().enumerate() {
                let field = format!("{path}.{name}[{i}]");
                if let Err(e) = spec.compile(&field) {
                    v.check(false, &field, e.message());
                }
            }
        }
        for label in &self.equal {
            v.check(
                is_label_name(label),
                &format!("{path}.equal"),
                format_args!("{label:?} is not a label name"),
            );
        }
    }
}

/// A compiled inhibition rule.
#[derive(Debug, Clone)]
pub(crate) struct InhibitRule {
    source: Vec<Matcher>,
    target: Vec<Matcher>,
    equal: Vec<String>,
}

impl InhibitRule {
    pub(crate) fn compile(config: &InhibitRuleConfig) -> Result<InhibitRule> {
        Ok(InhibitRule {
            source: compile_all("source_matchers", &config.source_matchers)?,
            target: compile_all("target_matchers", &config.target_matchers)?,
            equal: config.equal.clone(),
        })
    }
}

/// The firing alerts that mute `target` under `rules`. `firing` lists every firing alert.
pub(crate) fn inhibitors<'a>(
    rules: &[InhibitRule],
    target: (Fingerprint, &Labels),
    firing: impl Iterator<Item = (Fingerprint, &'a Labels)> + Clone,
) -> Vec<Fingerprint> {
    let (target_fp, target_labels) = target;
    let mut out = Vec::new();
    for rule in rules.iter().filter(|r| all_match(&r.target, target_labels)) {
        for (fp, labels) in firing.clone() {
            if fp != target_fp
                && all_match(&rule.source, labels)
                && rule
                    .equal
                    .iter()
                    .all(|l| labels.get(l) == target_labels.get(l))
                && !out.contains(&fp)
            {
                out.push(fp);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::labels::test_labels as labels;

    #[test]
    fn critical_mutes_warnings_of_the_same_service_only() {
        let rule = InhibitRule::compile(&InhibitRuleConfig::new(
            &["severity=critical"],
            &["severity=warning"],
            &["service"],
        ))
        .unwrap();
        let crit = labels(&[("severity", "critical"), ("service", "db")]);
        let warn_db = labels(&[("severity", "warning"), ("service", "db")]);
        let warn_web = labels(&[("severity", "warning"), ("service", "web")]);
        let (c, w1, w2) = (
            Fingerprint::of(&crit),
            Fingerprint::of(&warn_db),
            Fingerprint::of(&warn_web),
        );
        let firing = [(c, &crit), (w1, &warn_db), (w2, &warn_web)];
        let rules = [rule];
        assert_eq!(inhibitors(&rules, (w1, &warn_db), firing.into_iter()), [c]);
        assert!(inhibitors(&rules, (w2, &warn_web), firing.into_iter()).is_empty());
        assert!(inhibitors(&rules, (c, &crit), firing.into_iter()).is_empty());
    }
}
