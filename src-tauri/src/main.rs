//! `builderbar-app`: starts the menu-bar app (everything is in the library, `lib.rs`).

// No console window on Windows release builds; harmless elsewhere.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    builderbar_app::run()
}
