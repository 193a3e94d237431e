//! warden-sim
