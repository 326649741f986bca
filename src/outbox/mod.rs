//! Outgoing mail: render (Handlebars), compose (MIME), queue (transactional
//! outbox rows) and send (SMTP or files).

pub mod compose;
pub mod render;
pub mod sender;
pub mod transport;

pub use compose::Composer;
pub use render::Templates;
pub use sender::Sender;
pub use transport::{DeliveryError, Transport};
