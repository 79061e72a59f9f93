//! The built-in receivers.

mod channel;
mod log;
mod webhook;

pub use channel::ChannelReceiver;
pub use log::LogReceiver;
pub use webhook::WebhookReceiver;
pub(crate) use webhook::parse_url as webhook_url;
