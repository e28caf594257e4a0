//! Hookwire's server: the HTTP API, the delivery engine and the application lifecycle.

pub mod activity;
pub mod api;
pub mod app;
pub mod auth;
pub mod clock;
pub mod config;
pub mod delivery;
pub mod health;
pub mod intake;
pub mod metrics;
pub mod ops;
pub mod request_trace;
pub mod retention;
pub mod serve;
pub mod state;
#[cfg(test)]
mod testing;
pub mod ui;

pub use app::{Server, StartError};
pub use config::Config;
