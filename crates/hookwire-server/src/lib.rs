//! Hookwire's server: the HTTP API, the delivery engine and the application lifecycle.

pub mod api;
pub mod app;
pub mod auth;
pub mod config;
pub mod delivery;
pub mod payload_schemas;
pub mod retention;
pub mod state;
pub mod ui;

pub use app::{Server, StartError};
pub use config::Config;
