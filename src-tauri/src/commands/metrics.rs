//! metrics_watch/unwatch: CPU and memory of the qemu process at 1 Hz, only while watched.

use std::sync::Arc;

use builderbar_core::metrics::MetricsSample;
use tauri::ipc::Channel;
use tauri::{Runtime, State, Window};

use super::result::CmdResult;
use crate::state::AppState;

#[tauri::command]
pub fn metrics_watch<R: Runtime>(
    window: Window<R>,
    state: State<'_, AppState>,
    on_sample: Channel<MetricsSample>,
) -> CmdResult<()> {
    state.metrics.watch(window.label(), Arc::new(move |s| on_sample.send(s).is_ok()));
    Ok(())
}

#[tauri::command]
pub fn metrics_unwatch<R: Runtime>(window: Window<R>, state: State<'_, AppState>) -> CmdResult<()> {
    state.metrics.unwatch(window.label());
    Ok(())
}
