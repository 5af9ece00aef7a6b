//! `netpilot monitor`: the live terminal monitor.
//!
//! Four threads: the sampler refreshes on its schedule, one waits for keys, one for
//! SIGTERM, SIGHUP or SIGINT, and this one draws. The others send [`Message`]s into one
//! channel, so the screen wakes only when there is something to show: no polling, nothing
//! drawn while idle.

mod app;
mod sampler;
mod tables;
mod view;

pub use app::App;
pub use sampler::{Sampler, Snapshot};

use app::Flow;
use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{self, Event, KeyEventKind};
use ratatui::layout::Rect;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use std::sync::mpsc;
use std::time::Duration;

pub enum Message {
    Snapshot(Box<Snapshot>),
    /// A refresh failed; the next one may not.
    Failed(String),
    Input(Event),
    /// SIGTERM, SIGHUP or SIGINT: leave as `q` does, restoring the terminal.
    Stop,
}

/// Runs the monitor until the user quits. `sampler` is opened by the caller, before the
/// screen is taken, so failing to open it is an ordinary error.
pub fn run(sampler: Sampler, app: App, interval: Duration) -> anyhow::Result<()> {
    let (sender, messages) = mpsc::channel();
    sampler.spawn(interval, sender.clone());
    let mut signals = Signals::new([SIGTERM, SIGHUP, SIGINT])?;
    let stop = sender.clone();
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            let _ = stop.send(Message::Stop);
        }
    });
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
        Message::Stop => return Flow::Quit,
    }
    Flow::Continue
}

#[cfg(test)]
mod tests;
