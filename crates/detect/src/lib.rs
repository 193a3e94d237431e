//! warden-detect
