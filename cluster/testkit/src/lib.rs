//! Helpers shared by integration tests; a dev-dependency only.

pub mod ports;
