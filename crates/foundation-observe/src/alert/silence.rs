//! Silences: matchers plus a time span; an alert they match is not delivered while the
//! silence is active, and is shown as silenced.
//!
//! A silence is *pending* before its start, *active* until its end and *expired* after;
//! deleting one expires it at once (it stays visible, like Alertmanager's). Expired silences
//! are forgotten after the configured retention.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use foundation_core::{Error, Result, Validator};
use serde::{Deserialize, Serialize};

use super::labels::{Labels, as_input};
use super::matcher::{Matcher, MatcherSpec, all_match};
use crate::health::Timebase;

/// Longest a silence may last: a year.
pub const MAX_SILENCE: Duration = Duration::from_secs(366 * 86_400);

/// A request to create a silence.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SilenceRequest {
    /// Matchers an alert's labels must all satisfy to be silenced (at least one).
    pub matchers: Vec<MatcherSpec>,
    /// When it starts, RFC 3339; now when unset.
    #[serde(default, rename = "startsAt", alias = "starts_at")]
    pub starts_at: Option<String>,
    /// When it ends, RFC 3339; give this or `duration_ms`.
    #[serde(default, rename = "endsAt", alias = "ends_at")]
    pub ends_at: Option<String>,
    /// How long it lasts from its start, instead of `endsAt`.
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// Who created it.
    #[serde(rename = "createdBy", alias = "created_by")]
    pub created_by: String,
    /// Why.
    #[serde(default)]
    pub comment: String,
}

impl SilenceRequest {
    /// A silence of `matchers` (string form) for `duration` from now.
    pub fn new(matchers: &[&str], duration: Duration, created_by: &str, comment: &str) -> Self {
        SilenceRequest {
            matchers: matchers
                .iter()
                .map(|m| MatcherSpec::Text(m.to_string()))
                .collect(),
            starts_at: None,
            ends_at: None,
            duration_ms: Some(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)),
            created_by: created_by.to_string(),
            comment: comment.to_string(),
        }
    }
}

/// A silence's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SilenceId(pub u64);

impl SilenceId {
    /// Parses a decimal id; `NOT_FOUND` naming the text otherwise.
    pub fn parse(text: &str) -> Result<SilenceId> {
        text.parse()
            .map(SilenceId)
            .map_err(|_| Error::not_found("silence", text.chars().take(64).collect::<String>()))
    }
}

impl std::fmt::Display for SilenceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Where a silence is in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SilenceState {
    /// Not started yet.
    Pending,
    /// Silencing.
    Active,
    /// Over (or deleted).
    Expired,
}

/// A silence.
#[derive(Debug, Clone)]
pub struct Silence {
    /// Its identity.
    pub id: SilenceId,
    /// What it silences.
    pub matchers: Vec<Matcher>,
    /// When it starts, on the manager's clock.
    pub starts_at: Instant,
    /// When it ends, on the manager's clock.
    pub ends_at: Instant,
    /// Who created it.
    pub created_by: String,
    /// Why.
    pub comment: String,
}

impl Silence {
    /// Its state at `now`.
    pub fn state(&self, now: Instant) -> SilenceState {
        if now < self.starts_at {
            SilenceState::Pending
        } else if now < self.ends_at {
            SilenceState::Active
        } else {
            SilenceState::Expired
        }
    }

    /// Whether it silences `labels` at `now`.
    pub fn silences(&self, labels: &Labels, now: Instant) -> bool {
        self.state(now) == SilenceState::Active && all_match(&self.matchers, labels)
    }
}

/// Every silence, bounded.
#[derive(Debug, Default)]
pub(crate) struct Silences {
    by_id: BTreeMap<SilenceId, Silence>,
    next: u64,
}

impl Silences {
    /// Validates `request` and adds the silence; `INVALID_INPUT` naming the field.
    pub(crate) fn create(
        &mut self,
        request: &SilenceRequest,
        time: &Timebase,
        now: Instant,
        limit: usize,
    ) -> Result<Silence> {
        let mut v = Validator::new("");
        v.check(
            !request.matchers.is_empty(),
            "matchers",
            "at least one matcher is needed",
        )
        .non_empty("createdBy", &request.created_by);
        let mut matchers = Vec::new();
        for (i, spec) in request.matchers.iter().enumerate() {
            match spec.compile(&format!("matchers[{i}]")) {
                Ok(m) => matchers.push(m),
                Err(e) => {
                    v.check(false, &format!("matchers[{i}]"), e.message());
                }
            }
        }
        let starts_at = match &request.starts_at {
            Some(text) => parse_time(&mut v, "startsAt", text, time, now),
            None => Some(now),
        };
        let ends_at = match (&request.ends_at, request.duration_ms) {
            (Some(_), Some(_)) => {
                v.check(false, "endsAt", "give endsAt or duration_ms, not both");
                None
            }
            (None, None) => {
                v.check(false, "endsAt", "give endsAt or duration_ms");
                None
            }
            (Some(text), None) => parse_time(&mut v, "endsAt", text, time, now),
            (None, Some(ms)) => {
                let d = Duration::from_millis(ms);
                v.check(ms > 0, "duration_ms", "must be greater than zero")
                    .check(d <= MAX_SILENCE, "duration_ms", "must be at most a year");
                starts_at.map(|s| s + d)
            }
        };
        if let (Some(s), Some(e)) = (starts_at, ends_at) {
            v.check(e > s, "endsAt", "must be after startsAt")
                .check(e > now, "endsAt", "must be in the future")
                .check(
                    e - s <= MAX_SILENCE,
                    "endsAt",
                    "a silence lasts at most a year",
                );
        }
        v.finish().map_err(as_input)?;
        let (Some(starts_at), Some(ends_at)) = (starts_at, ends_at) else {
            return Err(Error::invalid_input("endsAt", "missing"));
        };
        self.prune(now, limit.saturating_sub(1));
        if self.by_id.len() >= limit {
            return Err(Error::new(
                foundation_core::ErrorCode::UNAVAILABLE,
                format!("at most {limit} silences are kept; delete some first"),
            ));
        }
        self.next += 1;
        let silence = Silence {
            id: SilenceId(self.next),
            matchers,
            starts_at,
            ends_at,
            created_by: request.created_by.clone(),
            comment: request.comment.clone(),
        };
        self.by_id.insert(silence.id, silence.clone());
        Ok(silence)
    }

    /// Expires a silence now; `NOT_FOUND` for an unknown id.
    pub(crate) fn expire(&mut self, id: SilenceId, now: Instant) -> Result<Silence> {
        let silence = self
            .by_id
            .get_mut(&id)
            .ok_or_else(|| Error::not_found("silence", id))?;
        if silence.ends_at > now {
            silence.ends_at = now;
            silence.starts_at = silence.starts_at.min(now);
        }
        Ok(silence.clone())
    }

    pub(crate) fn get(&self, id: SilenceId) -> Result<Silence> {
        self.by_id
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::not_found("silence", id))
    }

    pub(crate) fn all(&self) -> Vec<Silence> {
        self.by_id.values().cloned().collect()
    }

    /// The active silences matching `labels`.
    pub(crate) fn silencing(&self, labels: &Labels, now: Instant) -> Vec<SilenceId> {
        self.by_id
            .values()
            .filter(|s| s.silences(labels, now))
            .map(|s| s.id)
            .collect()
    }

    /// Forgets expired silences, oldest first, until at most `keep` remain.
    pub(crate) fn prune(&mut self, now: Instant, keep: usize) {
        while self.by_id.len() > keep {
            let oldest = self
                .by_id
                .values()
                .filter(|s| s.state(now) == SilenceState::Expired)
                .min_by_key(|s| s.ends_at)
                .map(|s| s.id);
            match oldest {
                Some(id) => {
                    self.by_id.remove(&id);
                }
                None => break,
            }
        }
    }

    /// Forgets silences expired for longer than `retention`.
    pub(crate) fn forget_expired(&mut self, now: Instant, retention: Duration) {
        self.by_id
            .retain(|_, s| now.saturating_duration_since(s.ends_at) <= retention);
    }
}

fn parse_time(
    v: &mut Validator,
    field: &str,
    text: &str,
    time: &Timebase,
    now: Instant,
) -> Option<Instant> {
    match chrono::DateTime::parse_from_rfc3339(text) {
        Ok(at) => {
            let wall = SystemTime::from(at);
            let wall_now = time.wall(now);
            Some(match wall.duration_since(wall_now) {
                Ok(ahead) => now + ahead,
                Err(behind) => now.checked_sub(behind.duration()).unwrap_or(now),
            })
        }
        Err(e) => {
            v.check(false, field, format_args!("not an RFC 3339 time: {e}"));
            None
        }
    }
}
