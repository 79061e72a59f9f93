//! Test support (feature `testing`): a `tracing` layer that captures spans' fields, for
//! suites that assert what a span says.
//!
//! ```
//! use foundation_core::testing::SpanFields;
//! use tracing_subscriber::layer::SubscriberExt;
//!
//! let spans = SpanFields::named("job");
//! let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(spans.clone()));
//! tracing::info_span!("job", queue = "mail").in_scope(|| {});
//! assert_eq!(spans.recorded()[0]["queue"], "mail");
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, Layer};

type Fields = BTreeMap<String, String>;

/// Keeps the fields of every span with one name, as last recorded (strings as they are,
/// other values in their `Debug` form). Clones share what was captured.
#[derive(Clone)]
pub struct SpanFields {
    name: &'static str,
    spans: Arc<Mutex<HashMap<u64, Fields>>>,
}

impl fmt::Debug for SpanFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpanFields")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl SpanFields {
    /// Captures spans named `name`.
    pub fn named(name: &'static str) -> SpanFields {
        SpanFields {
            name,
            spans: Arc::default(),
        }
    }

    /// The captured spans' fields, in the order the spans were created.
    pub fn recorded(&self) -> Vec<Fields> {
        let spans = self.spans.lock().unwrap_or_else(PoisonError::into_inner);
        let mut all: Vec<(&u64, &Fields)> = spans.iter().collect();
        all.sort_by_key(|(id, _)| **id);
        all.into_iter().map(|(_, fields)| fields.clone()).collect()
    }

    fn update(&self, id: &Id, record: impl FnOnce(&mut Fields)) {
        let mut spans = self.spans.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(fields) = spans.get_mut(&id.into_u64()) {
            record(fields);
        }
    }
}

struct Visitor<'a>(&'a mut Fields);

impl Visit for Visitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }
}

impl<S: tracing::Subscriber> Layer<S> for SpanFields {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _ctx: Context<'_, S>) {
        if attrs.metadata().name() == self.name {
            let mut fields = Fields::new();
            attrs.record(&mut Visitor(&mut fields));
            let mut spans = self.spans.lock().unwrap_or_else(PoisonError::into_inner);
            spans.insert(id.into_u64(), fields);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: Context<'_, S>) {
        self.update(id, |fields| values.record(&mut Visitor(fields)));
    }
}
