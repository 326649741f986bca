//! Outgoing mail: render (Handlebars), compose (MIME), queue (transactional
//! outbox rows) and send (SMTP or files). [`Mailer`] is the one way to write
//! a mail.

pub mod compose;
pub mod health;
pub mod mailer;
pub mod render;
pub mod sender;
pub mod transport;

pub use compose::Composer;
pub use mailer::{Answering, Cap, Letter, Mailer};
pub use render::Templates;
pub use sender::Sender;
pub use transport::{DeliveryError, Transport};
