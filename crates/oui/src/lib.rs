//! warden-oui
