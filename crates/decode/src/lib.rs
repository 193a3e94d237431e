//! warden-decode
