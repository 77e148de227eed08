//! The capture thread: takes frames from the source and hands them to the inspector, pacing a
//! live source and dropping the oldest frame rather than lagging behind the line.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};

use super::{Shared, StationConfig, lock};
use crate::capture::{CaptureError, Frame, FrameSource, Pacing};

/// What the loop does after a source error.
enum AfterError {
    /// Try the next frame.
    Continue,
    /// The source is done for (batch mode).
    Stop,
}

pub(super) fn capture_loop(
    cfg: StationConfig,
    mut source: Box<dyn FrameSource>,
    tx: Sender<Frame>,
    drop_rx: Receiver<Frame>,
    shared: Arc<Shared>,
) {
    let mut delivered = 0u64;
    let mut next_due = Instant::now();
    loop {
        if shared.stop.load(Ordering::SeqCst) || cfg.max_frames.is_some_and(|m| delivered >= m) {
            break;
        }
        switch_source_if_asked(&cfg, &mut source, &shared);
        if shared.paused.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(20));
            next_due = Instant::now();
            continue;
        }
        if cfg.live
            && let Pacing::Fps(fps) = source.pacing()
        {
            pace(fps, &mut next_due);
        }
        let result = source.next_frame();
        for w in source.take_warnings() {
            tracing::warn!("{w}");
            let mut st = lock(&shared.stats);
            st.skipped_files += 1;
            st.source_problem = Some(w);
        }
        match result {
            Ok(Some(frame)) => {
                delivered += 1;
                {
                    let mut st = lock(&shared.stats);
                    st.frames_captured += 1;
                    st.source_lost = false;
                }
                if !deliver(cfg.live, frame, &tx, &drop_rx, &shared) {
                    return;
                }
            }
            Ok(None) => {
                if cfg.live {
                    // A finished replay in the GUI: keep the last frame, wait for a new source.
                    lock(&shared.stats).finished = true;
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
                break;
            }
            Err(e) => {
                if let AfterError::Stop = after_error(&cfg, e, &shared) {
                    break;
                }
            }
        }
    }
    lock(&shared.stats).finished = true;
}

/// Open the source a UI asked for; on failure the old one keeps running and the status says
/// why.
fn switch_source_if_asked(cfg: &StationConfig, source: &mut Box<dyn FrameSource>, shared: &Shared) {
    let Some(spec) = lock(&shared.pending_source).take() else {
        return;
    };
    match spec.open(&cfg.source_options) {
        Ok(s) => {
            *source = s;
            let mut st = lock(&shared.stats);
            st.source = source.describe();
            st.source_view = source.view();
            st.source_problem = None;
            st.finished = false;
            tracing::info!("source switched to {}", st.source);
        }
        Err(e) => {
            tracing::warn!("cannot switch source to {spec}: {e}");
            lock(&shared.stats).source_problem = Some(crate::tr!(
                "station-cannot-switch-source",
                source = spec.to_string(),
                error = e.to_string()
            ));
        }
    }
}

/// Sleep until the next frame of a source running at `fps` is due.
fn pace(fps: f64, next_due: &mut Instant) {
    let now = Instant::now();
    if *next_due > now {
        std::thread::sleep(*next_due - now);
    }
    *next_due = (*next_due).max(now - Duration::from_millis(100))
        + Duration::from_secs_f64(1.0 / fps.clamp(0.1, 1000.0));
}

/// Hand a frame to the inspector; false when the inspector is gone.
fn deliver(
    live: bool,
    frame: Frame,
    tx: &Sender<Frame>,
    drop_rx: &Receiver<Frame>,
    shared: &Shared,
) -> bool {
    if !live {
        return tx.send(frame).is_ok();
    }
    // Drop the oldest frame rather than lag behind the line.
    let mut frame = frame;
    loop {
        match tx.try_send(frame) {
            Ok(()) => return true,
            Err(TrySendError::Full(f)) => {
                if drop_rx.try_recv().is_ok() {
                    lock(&shared.stats).frames_dropped += 1;
                }
                frame = f;
            }
            Err(TrySendError::Disconnected(_)) => return false,
        }
    }
}

/// Report a source error; a live station retries (a lost camera by reopening it every 2 s),
/// a batch run stops.
fn after_error(cfg: &StationConfig, e: CaptureError, shared: &Shared) -> AfterError {
    let set_problem = |p: String| lock(&shared.stats).source_problem = Some(p);
    tracing::error!("{e}");
    if let CaptureError::CameraLost { .. } = e {
        set_problem(format!("{e}; retrying every 2 s"));
        lock(&shared.stats).source_lost = true;
        if !cfg.live {
            return AfterError::Stop;
        }
        // Retry by reopening, without blocking anyone: only this thread waits.
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline && !shared.stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut pending = lock(&shared.pending_source);
        if pending.is_none() {
            *pending = Some(cfg.source.clone());
        }
        return AfterError::Continue;
    }
    set_problem(e.to_string());
    if !cfg.live {
        return AfterError::Stop;
    }
    std::thread::sleep(Duration::from_millis(500));
    AfterError::Continue
}
