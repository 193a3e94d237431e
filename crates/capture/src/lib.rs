//! warden-capture
