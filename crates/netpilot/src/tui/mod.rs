//! `netpilot monitor`: the live terminal monitor.
//!
//! Three threads: the sampler refreshes on its schedule, an input thread waits for keys,
//! and this one draws. Both send [`Message`]s into one channel, so the screen wakes only
//! when there is something to show: no polling, nothing drawn while idle.

mod app;
mod sampler;
mod view;

pub use app::App;
pub use sampler::{Sampler, Snapshot};

use app::Flow;
use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{self, Event, KeyEventKind};
use ratatui::layout::Rect;
use std::sync::mpsc;
use std::time::Duration;

pub enum Message {
    Snapshot(Box<Snapshot>),
    /// A refresh failed; the next one may not.
    Failed(String),
    Input(Event),
}

/// Runs the monitor until the user quits. `sampler` is opened by the caller, before the
/// screen is taken, so failing to open it is an ordinary error.
pub fn run(sampler: Sampler, app: App, interval: Duration) -> anyhow::Result<()> {
    let (sender, messages) = mpsc::channel();
    sampler.spawn(interval, sender.clone());
    // Restores the terminal on panic too (ratatui's hook).
    let mut terminal = ratatui::try_init()?;
    std::thread::spawn(move || {
        while let Ok(event) = event::read() {
            if sender.send(Message::Input(event)).is_err() {
                return;
            }
        }
    });
    let result = event_loop(&mut terminal, app, &messages);
    ratatui::restore();
    result
}

fn event_loop(
    terminal: &mut DefaultTerminal,
    mut app: App,
    messages: &mpsc::Receiver<Message>,
) -> anyhow::Result<()> {
    loop {
        let size = terminal.size()?;
        app.set_page(view::page(&app, Rect::new(0, 0, size.width, size.height)));
        terminal.draw(|frame| view::render(&app, frame))?;
        // Everything that arrived since the last frame, then one redraw.
        let mut next = Some(messages.recv()?);
        while let Some(message) = next {
            if handle(&mut app, message) == Flow::Quit {
                return Ok(());
            }
            next = messages.try_recv().ok();
        }
    }
}

fn handle(app: &mut App, message: Message) -> Flow {
    match message {
        Message::Snapshot(snapshot) => app.on_snapshot(*snapshot),
        Message::Failed(error) => app.error = Some(error),
        Message::Input(Event::Key(key)) if key.kind == KeyEventKind::Press => {
            return app.on_key(key);
        }
        Message::Input(_) => {} // a resize: the next draw fits the new size
    }
    Flow::Continue
}

#[cfg(test)]
mod tests;
