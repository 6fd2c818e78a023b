//! Progress bars for long operations (on a terminal; hidden otherwise).

use std::sync::{Arc, Mutex, PoisonError};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Draws the vault's byte counters as a bar (or a spinner when the total
/// is not known, as for a database dump).
#[derive(Debug)]
pub struct Bar {
    bar: Mutex<Option<ProgressBar>>,
    label: String,
}

impl Bar {
    pub fn new(label: &str) -> Arc<Bar> {
        Arc::new(Bar {
            bar: Mutex::new(None),
            label: label.to_string(),
        })
    }
}

impl coffer_vault::Observer for Bar {
    fn phase(&self, title: &str, total: Option<u64>) {
        let mut slot = self.bar.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(bar) = slot.as_ref() {
            if let Some(total) = total {
                bar.set_length(total);
            }
            return;
        }
        let bar = match total {
            Some(total) => ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
                .with_style(
                    ProgressStyle::with_template(
                        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                ),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
                ProgressStyle::with_template("{spinner} {msg} {bytes} {bytes_per_sec}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        bar.set_message(format!("{} {title}", self.label));
        *slot = Some(bar);
    }

    fn advance(&self, bytes: u64) {
        let mut slot = self.bar.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            drop(slot);
            self.phase("", None);
            slot = self.bar.lock().unwrap_or_else(PoisonError::into_inner);
        }
        if let Some(bar) = slot.as_ref() {
            bar.inc(bytes);
        }
    }

    fn done(&self) {
        if let Some(bar) = self
            .bar
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            bar.finish_and_clear();
        }
    }
}
