//! Field-named validation for `Config` structs.
//!
//! Every component's `Config::validate()` collects *all* problems and returns one
//! [`Error`] with code [`ErrorCode::INVALID_CONFIG`] whose message lists each field path and
//! reason, and whose context has one `field` entry per problem.
//!
//! ```
//! use foundation_core::{ErrorCode, Validator};
//!
//! let mut v = Validator::new("breaker");
//! v.range("failure_rate_threshold", 150.0, 0.0, 100.0);
//! v.non_empty("name", "");
//! let err = v.finish().unwrap_err();
//! assert!(err.is(ErrorCode::INVALID_CONFIG));
//! assert!(err.message().contains("breaker.failure_rate_threshold"));
//! assert_eq!(err.context_values("field").count(), 2);
//! ```

use std::fmt::Display;
use std::time::Duration;

use crate::{Error, ErrorCode, Result};

/// A config section that can check itself.
///
/// Implement [`Validate::validate_into`]; callers use [`Validate::validate`] or
/// [`Validate::validate_at`] to get one error listing every problem.
pub trait Validate {
    /// Records every problem of `self` into `v`.
    fn validate_into(&self, v: &mut Validator);

    /// Validates with field paths relative to this section.
    fn validate(&self) -> Result<()> {
        self.validate_at("")
    }

    /// Validates with field paths prefixed by `section` (e.g. `protection.api.breaker`).
    fn validate_at(&self, section: &str) -> Result<()> {
        let mut v = Validator::new(section);
        self.validate_into(&mut v);
        v.finish()
    }
}

/// Collects field errors for one config section.
#[derive(Debug)]
pub struct Validator {
    section: String,
    errors: Vec<(String, String)>,
}

impl Validator {
    /// Starts validating the section at `section` (a dotted path, may be empty).
    pub fn new(section: impl Into<String>) -> Validator {
        Validator {
            section: section.into(),
            errors: Vec::new(),
        }
    }

    fn path(&self, field: &str) -> String {
        if self.section.is_empty() {
            field.to_string()
        } else {
            format!("{}.{field}", self.section)
        }
    }

    /// Records an error for `field` unless `ok`.
    pub fn check(&mut self, ok: bool, field: &str, reason: impl Display) -> &mut Self {
        if !ok {
            let path = self.path(field);
            self.errors.push((path, reason.to_string()));
        }
        self
    }

    /// `value` must lie in `min..=max` and be a number.
    pub fn range(&mut self, field: &str, value: f64, min: f64, max: f64) -> &mut Self {
        let ok = value.is_finite() && value >= min && value <= max;
        self.check(
            ok,
            field,
            format_args!("must be within {min}..={max}, got {value}"),
        )
    }

    /// `value` must be at least 1.
    pub fn at_least_one(&mut self, field: &str, value: u64) -> &mut Self {
        self.check(
            value >= 1,
            field,
            format_args!("must be at least 1, got {value}"),
        )
    }

    /// `value` must be longer than zero.
    pub fn positive_duration(&mut self, field: &str, value: Duration) -> &mut Self {
        self.check(!value.is_zero(), field, "must be greater than zero")
    }

    /// `value` must not be empty or only whitespace.
    pub fn non_empty(&mut self, field: &str, value: &str) -> &mut Self {
        self.check(!value.trim().is_empty(), field, "must not be empty")
    }

    /// `low` must not exceed `high`.
    pub fn ordered<T: PartialOrd + Display>(
        &mut self,
        low_field: &str,
        low: T,
        high_field: &str,
        high: T,
    ) -> &mut Self {
        let reason = format!(
            "must not exceed {} ({high}), got {low}",
            self.path(high_field)
        );
        self.check(low <= high, low_field, reason)
    }

    /// Validates a nested section under `field`, prefixing its field paths.
    pub fn nested(&mut self, field: &str, value: &impl Validate) -> &mut Self {
        let mut sub = Validator::new(self.path(field));
        value.validate_into(&mut sub);
        self.errors.extend(sub.errors);
        self
    }

    /// Whether any error was recorded.
    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// `Ok(())` if nothing was recorded, else one error listing every field.
    pub fn finish(self) -> Result<()> {
        if self.errors.is_empty() {
            return Ok(());
        }
        let message = self
            .errors
            .iter()
            .map(|(f, r)| format!("{f}: {r}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut err = Error::new(ErrorCode::INVALID_CONFIG, message);
        for (f, _) in self.errors {
            err = err.with_context("field", f);
        }
        Err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Window {
        size: u64,
    }
    impl Validate for Window {
        fn validate_into(&self, v: &mut Validator) {
            v.at_least_one("size", self.size);
        }
    }

    #[test]
    fn nested_sections_prefix_their_fields() {
        let mut outer = Validator::new("breaker");
        outer.nested("window", &Window { size: 0 });
        let err = outer.finish().unwrap_err();
        assert_eq!(err.context_value("field"), Some("breaker.window.size"));
        assert_eq!(
            err.message(),
            "breaker.window.size: must be at least 1, got 0"
        );
    }

    #[test]
    fn nan_is_out_of_range_and_order_is_checked() {
        let mut v = Validator::new("");
        v.range("ratio", f64::NAN, 0.0, 1.0)
            .ordered("min", 5, "max", 3);
        let err = v.finish().unwrap_err();
        assert!(
            err.message()
                .contains("ratio: must be within 0..=1, got NaN")
        );
        assert!(
            err.message()
                .contains("min: must not exceed max (3), got 5")
        );
    }

    #[test]
    fn clean_config_passes() {
        let mut v = Validator::new("x");
        v.positive_duration("d", Duration::from_millis(1))
            .non_empty("name", "a");
        assert!(v.finish().is_ok());
    }
}
