//! warden-pipeline
