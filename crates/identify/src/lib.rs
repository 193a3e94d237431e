//! warden-identify
