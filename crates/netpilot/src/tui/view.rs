//! Drawing: a pure function of the [`App`] (and its snapshot). Only the rows on screen are
//! built, so tens of thousands of connections cost no more to draw than a page of them.

use super::app::{App, Column, History, Tab};
use super::tables::{CellTable, TrafficView};
use crate::output::{notes, rows, units};
use netpilot_api::monitor::ConnectionSummary;
use netpilot_core::{Connection, InterfaceSample};
use netpilot_engine::monitor::UdpStatus;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, RenderDirection, Row, Sparkline, Table};

pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 12;

const SELECTED: Style = Style::new().add_modifier(Modifier::REVERSED);
const HEADER: Style = Style::new().add_modifier(Modifier::BOLD);

pub fn render(app: &App, frame: &mut Frame<'_>) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let message = format!(
            "netpilot monitor needs a terminal of at least {MIN_WIDTH}×{MIN_HEIGHT}; \
             this one is {}×{}. Enlarge it, or press q to quit.",
            area.width, area.height
        );
        frame.render_widget(
            Paragraph::new(message).wrap(ratatui::widgets::Wrap { trim: true }),
            area,
        );
        return;
    }
    let areas = Areas::of(app, area);
    frame.render_widget(title(app), areas.title);
    if let Some(note) = note(app) {
        frame.render_widget(note, areas.note);
    }
    match &app.snapshot {
        None => frame.render_widget(Paragraph::new("sampling…"), areas.body),
        Some(_) => match app.tab {
            Tab::Interfaces => interfaces(app, frame, areas.body),
            Tab::Connections => frame.render_widget(connections(app, areas.body), areas.body),
            Tab::Ports => frame.render_widget(ports(app, areas.body), areas.body),
            Tab::Traffic => frame.render_widget(traffic(app, areas.body), areas.body),
        },
    }
    if let Some(empty) = empty_view(app) {
        let below_header = Rect {
            y: areas.body.y + 1,
            height: areas.body.height.saturating_sub(1),
            ..areas.body
        };
        frame.render_widget(Paragraph::new(empty).dim(), below_header);
    }
    frame.render_widget(status(app), areas.status);
    if app.help {
        help(frame, area);
    }
}

/// What an empty table says instead of nothing.
fn empty_view(app: &App) -> Option<&'static str> {
    let snapshot = app.snapshot.as_ref()?;
    let empty = match app.tab {
        Tab::Interfaces => snapshot.interfaces.is_empty(),
        Tab::Connections => app.shown.is_empty(),
        Tab::Ports => app.ports_table.shown.is_empty(),
        Tab::Traffic => app.traffic_table.shown.is_empty(),
    };
    if !empty {
        return None;
    }
    Some(match app.tab {
        Tab::Interfaces => "no interfaces",
        Tab::Connections if !snapshot.connections.is_empty() => {
            "no socket matches (a: all, Esc: clear the search)"
        }
        Tab::Connections => "no sockets",
        Tab::Ports if !app.ports_table.cells.is_empty() => {
            "no port matches (Esc: clear the search)"
        }
        Tab::Ports => "nothing listens",
        Tab::Traffic if !app.traffic_table.cells.is_empty() => {
            "no row matches (Esc: clear the search)"
        }
        Tab::Traffic => match app.traffic_view {
            TrafficView::Processes => "no process with sockets that this user may inspect",
            TrafficView::Connections => "no connection has moved bytes yet",
            TrafficView::Remotes => "no remote host has exchanged bytes yet",
        },
    })
}

/// How many table rows the current view has room for, for paging.
pub fn page(app: &App, area: Rect) -> usize {
    let body = Areas::of(app, area).body;
    let table = match app.tab {
        Tab::Interfaces => interface_split(app, body).0,
        _ => body,
    };
    usize::from(table.height.saturating_sub(1)) // the header
}

struct Areas {
    title: Rect,
    note: Rect,
    body: Rect,
    status: Rect,
}

impl Areas {
    fn of(app: &App, area: Rect) -> Areas {
        let note = u16::from(note(app).is_some());
        let [title, note, body, status] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(note),
            Constraint::Fill(1),
            Constraint::Length(1),
        ])
        .areas(area);
        Areas {
            title,
            note,
            body,
            status,
        }
    }
}

fn title(app: &App) -> Line<'_> {
    let mut spans = vec![Span::from(" netpilot ").bold()];
    for (i, tab) in Tab::ALL.into_iter().enumerate() {
        let label = format!(" {} {} ", i + 1, tab.title());
        spans.push(if tab == app.tab {
            Span::styled(label, SELECTED)
        } else {
            Span::from(label)
        });
    }
    let mut scope = format!("  every {} s", seconds(app.interval.as_secs_f64()));
    if let Some(netns) = &app.netns {
        scope.push_str(&format!(" · netns {netns}"));
    }
    spans.push(Span::from(scope).dim());
    Line::from(spans)
}

/// "1", "0.5", "2.25"
fn seconds(s: f64) -> String {
    let text = format!("{s:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A failed refresh, or what an unprivileged run cannot see and how to see it.
fn note(app: &App) -> Option<Line<'static>> {
    if let Some(error) = &app.error {
        return Some(Line::from(format!("refresh failed: {error}")).red());
    }
    let visibility = app.snapshot.as_ref()?.traffic.visibility;
    let hidden = notes::hidden(&visibility, app.root)?;
    Some(Line::from(hidden.line()).yellow())
}

fn status(app: &App) -> Line<'_> {
    let keys = Span::from("  ? keys · q quit").dim();
    let Some(snapshot) = &app.snapshot else {
        return Line::from(vec![keys]);
    };
    if app.tab != Tab::Interfaces && app.searching {
        return Line::from(vec![
            Span::from(format!("/{}", app.search())),
            Span::styled(" ", SELECTED),
            Span::from("  Enter: keep · Esc: clear").dim(),
        ]);
    }
    let text = match app.tab {
        Tab::Interfaces => {
            format!(
                "{} interfaces · ↑↓ choose the one charted",
                snapshot.interfaces.len()
            )
        }
        Tab::Connections => connections_status(app, &snapshot.summary),
        Tab::Ports => {
            let mut text = format!(
                "{} of {} listening sockets · {} ports",
                app.ports_table.shown.len(),
                app.ports_table.cells.len(),
                snapshot.ports.len()
            );
            if !app.search().is_empty() {
                text.push_str(&format!(" · /{}", app.search()));
            }
            text
        }
        Tab::Traffic => traffic_status(app, snapshot),
    };
    Line::from(vec![Span::from(text), keys])
}

/// "per process (v: next view) · TCP and UDP payload · np0 97.8 % attributed", or why
/// UDP bytes are not measured.
fn traffic_status(app: &App, snapshot: &super::Snapshot) -> String {
    let mut text = format!("{} (v: next view)", app.traffic_view.label());
    match &snapshot.traffic.udp {
        UdpStatus::Measured { .. } => {
            text.push_str(" · TCP and UDP payload");
            // The busiest interface's share says how much of the picture this is.
            if let Some(busiest) = snapshot.reconciliation.iter().max_by_key(|r| r.bytes)
                && busiest.bytes > 0
            {
                text.push_str(&format!(
                    " · {} {:.1} % attributed",
                    busiest.interface,
                    busiest.attributed_percent()
                ));
            }
        }
        UdpStatus::NotMeasured(why) => {
            text.push_str(" · * UDP not measured: ");
            text.push_str(
                why.message
                    .trim_start_matches("UDP bytes are not measured: "),
            );
        }
    }
    if !app.search().is_empty() {
        text.push_str(&format!(" · /{}", app.search()));
    }
    text
}

/// "12 of 3,400 sockets · ESTAB 3,300, LISTEN 90 · tcp · /ssh · by state ▲"
fn connections_status(app: &App, summary: &ConnectionSummary) -> String {
    let states: Vec<String> = summary
        .by_state
        .iter()
        .map(|(state, n)| format!("{} {}", state.label(), units::count(u64::from(*n))))
        .collect();
    let mut text = format!(
        "{} of {} sockets · {} · {}",
        units::count(app.shown.len() as u64),
        units::count(u64::from(summary.total)),
        states.join(", "),
        app.kind.label()
    );
    if !app.search().is_empty() {
        text.push_str(&format!(" · /{}", app.search()));
    }
    text
}

fn header<'a>(cells: impl IntoIterator<Item = &'a str>) -> Row<'a> {
    Row::new(cells).style(HEADER)
}

/// The rows of `items` that fit on screen from the tab's offset, the selected one marked.
fn visible<'a, T>(
    app: &App,
    area: Rect,
    items: impl Iterator<Item = T>,
    row: impl Fn(T) -> Row<'a>,
) -> Vec<Row<'a>> {
    let tab = app.tab as usize;
    let (offset, selected) = (app.offset[tab], app.selected[tab]);
    let height = usize::from(area.height.saturating_sub(1));
    items
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(i, item)| {
            let r = row(item);
            if i == selected { r.style(SELECTED) } else { r }
        })
        .collect()
}

fn connections<'a>(app: &'a App, area: Rect) -> Table<'a> {
    let snapshot = app.snapshot.as_ref().expect("drawn with a snapshot");
    let marker = if app.descending { " ▼" } else { " ▲" };
    let titles = [
        (Column::Proto, "PROTO"),
        (Column::State, "STATE"),
        (Column::Local, "LOCAL"),
        (Column::Remote, "REMOTE"),
        (Column::Process, "PROCESS"),
    ];
    let mut head: Vec<String> = titles
        .iter()
        .map(|&(column, name)| {
            if column == app.sort {
                format!("{name}{marker}")
            } else {
                name.to_string()
            }
        })
        .collect();
    head.push("USER".into());
    let rows = visible(
        app,
        area,
        app.shown.iter().map(|&i| &snapshot.connections[i]),
        connection_row,
    );
    Table::new(
        rows,
        [
            Constraint::Length(7),
            Constraint::Length(11),
            Constraint::Fill(3),
            Constraint::Fill(3),
            Constraint::Fill(2),
            Constraint::Length(8),
        ],
    )
    .header(Row::new(head).style(HEADER))
}

fn connection_row(c: &Connection) -> Row<'static> {
    Row::new(rows::connection(c))
}

fn ports<'a>(app: &'a App, area: Rect) -> Table<'a> {
    cell_table(app, area, &app.ports_table, &[6, 6, 12, 0, 0, 8])
}

fn traffic<'a>(app: &'a App, area: Rect) -> Table<'a> {
    let widths: &[u16] = match app.traffic_view {
        TrafficView::Processes => &[7, 0, 8, 10, 10, 10, 10, 10, 10, 5, 4],
        TrafficView::Connections => &[5, 0, 0, 0, 8, 10, 10, 10, 10],
        TrafficView::Remotes => &[0, 0, 10, 10, 10, 10, 5, 0],
    };
    cell_table(app, area, &app.traffic_table, widths)
}

/// A [`CellTable`]'s rows on screen; a width of 0 shares what is left. The sorted column
/// is marked ▲ (▼ reversed).
fn cell_table<'a>(app: &'a App, area: Rect, table: &'a CellTable, widths: &[u16]) -> Table<'a> {
    let tab = app.tab as usize;
    let marker = if app.table_descending[tab] {
        " ▼"
    } else {
        " ▲"
    };
    let head: Vec<String> = table
        .titles
        .iter()
        .enumerate()
        .map(|(i, title)| {
            if app.table_sort[tab] == Some(i) {
                format!("{title}{marker}")
            } else {
                title.to_string()
            }
        })
        .collect();
    let rows = visible(app, area, table.shown.iter(), |&i| {
        Row::new(table.cells[i].clone())
    });
    let constraints: Vec<Constraint> = widths
        .iter()
        .map(|&w| {
            if w == 0 {
                Constraint::Fill(1)
            } else {
                Constraint::Length(w)
            }
        })
        .collect();
    Table::new(rows, constraints).header(Row::new(head).style(HEADER))
}

/// The table on top, the charts of the selected interface below.
fn interface_split(app: &App, body: Rect) -> (Rect, Rect) {
    let rows = app.snapshot.as_ref().map_or(0, |s| s.interfaces.len()) as u16;
    let [table, charts] =
        Layout::vertical([Constraint::Max(rows + 1), Constraint::Min(6)]).areas(body);
    (table, charts)
}

fn interfaces(app: &App, frame: &mut Frame<'_>, body: Rect) {
    let snapshot = app.snapshot.as_ref().expect("drawn with a snapshot");
    let (table_area, charts) = interface_split(app, body);
    let rows = visible(app, table_area, snapshot.interfaces.iter(), interface_row);
    let table = Table::new(
        rows,
        [
            Constraint::Length(12),
            Constraint::Length(10),
            Constraint::Length(8),
            Constraint::Fill(1),
            Constraint::Length(11),
            Constraint::Length(11),
        ],
    )
    .header(header([
        "NAME",
        "KIND",
        "STATE",
        "ADDRESSES",
        "RX/s",
        "TX/s",
    ]));
    frame.render_widget(table, table_area);

    let selected = app.selected[Tab::Interfaces as usize];
    let Some(sample) = snapshot.interfaces.get(selected) else {
        return;
    };
    let name = &sample.interface.name;
    let empty = History::default();
    let history = app.history.get(name).unwrap_or(&empty);
    let [rx, tx] = Layout::vertical([Constraint::Fill(1), Constraint::Fill(1)]).areas(charts);
    chart(frame, rx, &format!("{name} received"), &history.rx);
    chart(frame, tx, &format!("{name} sent"), &history.tx);
}

fn interface_row(sample: &InterfaceSample) -> Row<'static> {
    let i = &sample.interface;
    let state = if i.admin_up {
        i.oper_state.as_str().to_uppercase()
    } else {
        "DOWN".to_string()
    };
    let addresses: Vec<String> = i
        .ipv4
        .iter()
        .chain(&i.ipv6)
        .map(|a| format!("{}/{}", a.address, a.prefix_len))
        .collect();
    let (rx, tx) = match sample.rate {
        Some(rate) => (
            units::rate(rate.rx_bytes_per_sec),
            units::rate(rate.tx_bytes_per_sec),
        ),
        None => ("…".to_string(), "…".to_string()),
    };
    Row::new([
        i.name.clone(),
        i.kind.as_str().to_string(),
        state,
        addresses.join(" "),
        rx,
        tx,
    ])
}

/// A rate history, newest on the right, with the latest and the peak in the title.
fn chart(frame: &mut Frame<'_>, area: Rect, what: &str, points: &std::collections::VecDeque<u64>) {
    let width = usize::from(area.width.saturating_sub(2));
    let data: Vec<u64> = points
        .iter()
        .skip(points.len().saturating_sub(width))
        .copied()
        .collect();
    let now = data.last().copied().unwrap_or(0);
    let peak = data.iter().copied().max().unwrap_or(0);
    let title = format!(
        " {what}: {} · peak {} ",
        units::rate(now as f64),
        units::rate(peak as f64)
    );
    let block = Block::bordered().title(title);
    // Newest at the right edge, history growing to the left.
    let newest_first: Vec<u64> = data.into_iter().rev().collect();
    let sparkline = Sparkline::default()
        .block(block)
        .direction(RenderDirection::RightToLeft)
        .data(newest_first);
    frame.render_widget(sparkline, area);
}

const KEYS: [(&str, &str); 15] = [
    ("Tab Shift-Tab 1–4", "switch views"),
    ("↑ ↓ j k", "move"),
    ("PgUp PgDn", "move a page"),
    ("Home End g G", "first / last row"),
    ("", "Connections, Ports, Traffic:"),
    ("/", "search address, port, process or pid"),
    ("Esc", "clear the search"),
    ("s  r", "sort by the next column, reverse"),
    (
        "a t u e l",
        "Connections: all, tcp, udp, established, listening",
    ),
    ("", "Traffic:"),
    ("v", "per process, per connection, per remote host"),
    ("", "Interfaces:"),
    ("↑ ↓", "choose the interface charted"),
    ("?", "this help"),
    ("q Ctrl-C", "quit"),
];

fn help(frame: &mut Frame<'_>, area: Rect) {
    let widest = KEYS
        .iter()
        .map(|(_, what)| what.chars().count())
        .max()
        .unwrap_or(0);
    let width = (widest as u16 + 24).min(area.width);
    let height = (KEYS.len() as u16 + 2).min(area.height);
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    let lines: Vec<Line<'_>> = KEYS
        .iter()
        .map(|(keys, what)| {
            Line::from(vec![
                Span::from(format!("{keys:>18}  ")).bold(),
                Span::from(*what),
            ])
        })
        .collect();
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" keys (any key closes) ")),
        popup,
    );
}
