//! warden-devices
