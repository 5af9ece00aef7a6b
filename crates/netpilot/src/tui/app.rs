//! The monitor's state and what each key does to it. No I/O: the screen is drawn from
//! this by `view`, and tests drive it with keys.

use super::sampler::Snapshot;
use super::tables::{self, CellTable, TrafficView};
use netpilot_core::{Connection, Protocol, SocketState};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::cmp::Ordering;
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

/// Rate points kept per interface: two minutes at the default interval.
pub const HISTORY: usize = 120;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Interfaces,
    Connections,
    Ports,
    Traffic,
}

impl Tab {
    pub const ALL: [Tab; 4] = [Tab::Interfaces, Tab::Connections, Tab::Ports, Tab::Traffic];

    pub fn title(self) -> &'static str {
        match self {
            Tab::Interfaces => "Interfaces",
            Tab::Connections => "Connections",
            Tab::Ports => "Ports",
            Tab::Traffic => "Traffic",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Which sockets the Connections view shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    All,
    Tcp,
    Udp,
    Established,
    Listen,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::All => "all",
            Kind::Tcp => "tcp",
            Kind::Udp => "udp",
            Kind::Established => "established",
            Kind::Listen => "listen",
        }
    }

    fn admits(self, c: &Connection) -> bool {
        match self {
            Kind::All => true,
            Kind::Tcp => c.protocol == Protocol::Tcp,
            Kind::Udp => c.protocol == Protocol::Udp,
            Kind::Established => c.state == SocketState::Established,
            Kind::Listen => c.state.is_listening(),
        }
    }
}

/// The Connections view's sort columns, in the order `s` cycles through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Proto,
    State,
    Local,
    Remote,
    Process,
}

impl Column {
    const ALL: [Column; 5] = [
        Column::Proto,
        Column::State,
        Column::Local,
        Column::Remote,
        Column::Process,
    ];

    fn compare(self, a: &Connection, b: &Connection) -> Ordering {
        match self {
            // The snapshot's own order (protocol, port, address) is the natural one.
            Column::Proto => Ordering::Equal,
            Column::State => a.state.label().cmp(b.state.label()),
            Column::Local => a.local.cmp(&b.local),
            Column::Remote => a.remote.cmp(&b.remote),
            Column::Process => {
                // Rows without a process last.
                match (first_process(a), first_process(b)) {
                    (Some(x), Some(y)) => x.cmp(&y),
                    (Some(_), None) => Ordering::Less,
                    (None, Some(_)) => Ordering::Greater,
                    (None, None) => Ordering::Equal,
                }
            }
        }
    }
}

/// The name and pid of the first process holding `c`'s socket.
fn first_process(c: &Connection) -> Option<(&str, u32)> {
    c.processes.first().map(|p| (&*p.name, p.pid))
}

/// Received and sent bytes per second, oldest first.
#[derive(Debug, Clone, Default)]
pub struct History {
    pub rx: VecDeque<u64>,
    pub tx: VecDeque<u64>,
}

impl History {
    fn push(&mut self, rx: f64, tx: f64) {
        if self.rx.len() == HISTORY {
            self.rx.pop_front();
            self.tx.pop_front();
        }
        self.rx.push_back(rx.round() as u64);
        self.tx.push_back(tx.round() as u64);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Quit,
}

#[derive(Debug)]
pub struct App {
    pub tab: Tab,
    pub kind: Kind,
    /// Each tab's search (Connections, Ports and Traffic have one).
    pub searches: [String; 4],
    /// Keys go into the current tab's search field.
    pub searching: bool,
    pub sort: Column,
    pub descending: bool,
    pub help: bool,
    pub interval: Duration,
    /// Running as root: hidden sockets are then not a matter of privileges.
    pub root: bool,
    /// What `--netns` named, shown in the title.
    pub netns: Option<String>,
    pub snapshot: Option<Snapshot>,
    /// The last refresh that failed, until one succeeds.
    pub error: Option<String>,
    pub history: BTreeMap<String, History>,
    /// Indexes into the snapshot's connections that pass the filter and search, sorted.
    pub shown: Vec<usize>,
    /// Per tab: the selected row and the first row on screen.
    pub selected: [usize; 4],
    pub offset: [usize; 4],
    /// Rows the body has room for, as last drawn: what PgUp/PgDn move by.
    pub page: usize,
    /// Which table the Traffic tab shows (`v` cycles).
    pub traffic_view: TrafficView,
    /// The Ports and Traffic tabs' rows, searched and sorted as Connections' are.
    pub ports_table: CellTable,
    pub traffic_table: CellTable,
    /// Per tab (Ports, Traffic): the column sorted by (`None`: the natural order), and
    /// whether reversed.
    pub table_sort: [Option<usize>; 4],
    pub table_descending: [bool; 4],
}

impl App {
    pub fn new(interval: Duration, root: bool, netns: Option<String>) -> Self {
        App {
            tab: Tab::Connections,
            kind: Kind::All,
            searches: Default::default(),
            searching: false,
            sort: Column::Proto,
            descending: false,
            help: false,
            interval,
            root,
            netns,
            snapshot: None,
            error: None,
            history: BTreeMap::new(),
            shown: Vec::new(),
            selected: [0; 4],
            offset: [0; 4],
            page: 20,
            traffic_view: TrafficView::Processes,
            ports_table: CellTable::default(),
            traffic_table: CellTable::default(),
            table_sort: [None; 4],
            table_descending: [false; 4],
        }
    }

    pub fn on_snapshot(&mut self, snapshot: Snapshot) {
        for sample in &snapshot.interfaces {
            if let Some(rate) = sample.rate {
                self.history
                    .entry(sample.interface.name.clone())
                    .or_default()
                    .push(rate.rx_bytes_per_sec, rate.tx_bytes_per_sec);
            }
        }
        self.history.retain(|name, _| {
            snapshot
                .interfaces
                .iter()
                .any(|s| &s.interface.name == name)
        });
        self.snapshot = Some(snapshot);
        self.error = None;
        self.refilter();
        self.keep_in_range();
    }

    pub fn on_key(&mut self, key: KeyEvent) -> Flow {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return Flow::Quit;
        }
        if self.searching {
            self.edit_search(key.code);
            return Flow::Continue;
        }
        if self.help {
            // Any key closes the help; q still quits.
            self.help = false;
            return if key.code == KeyCode::Char('q') {
                Flow::Quit
            } else {
                Flow::Continue
            };
        }
        match key.code {
            KeyCode::Char('q') => return Flow::Quit,
            KeyCode::Char('?') => self.help = true,
            KeyCode::Tab => self.tab = Tab::ALL[(self.tab.index() + 1) % 4],
            KeyCode::BackTab => self.tab = Tab::ALL[(self.tab.index() + 3) % 4],
            KeyCode::Char(digit @ '1'..='4') => {
                self.tab = Tab::ALL[digit as usize - '1' as usize];
            }
            KeyCode::Up | KeyCode::Char('k') => self.move_by(-1),
            KeyCode::Down | KeyCode::Char('j') => self.move_by(1),
            KeyCode::PageUp => self.move_by(-(self.page as isize)),
            KeyCode::PageDown => self.move_by(self.page as isize),
            KeyCode::Home | KeyCode::Char('g') => self.move_by(isize::MIN),
            KeyCode::End | KeyCode::Char('G') => self.move_by(isize::MAX),
            KeyCode::Esc if !self.search().is_empty() && self.tab != Tab::Interfaces => {
                self.searches[self.tab.index()].clear();
                self.refilter();
            }
            code if self.tab == Tab::Connections => self.connections_key(code),
            code if matches!(self.tab, Tab::Ports | Tab::Traffic) => self.table_key(code),
            _ => {}
        }
        Flow::Continue
    }

    /// Search, sort and (on Traffic) the view, on the tabs drawn from a [`CellTable`].
    fn table_key(&mut self, code: KeyCode) {
        let tab = self.tab.index();
        let columns = match self.tab {
            Tab::Ports => self.ports_table.titles.len(),
            _ => self.traffic_table.titles.len(),
        };
        match code {
            KeyCode::Char('/') => {
                self.searching = true;
                return;
            }
            // The natural order, then each column in turn.
            KeyCode::Char('s') => {
                self.table_sort[tab] = match self.table_sort[tab] {
                    None => Some(0),
                    Some(c) if c + 1 < columns => Some(c + 1),
                    Some(_) => None,
                };
            }
            KeyCode::Char('r') => self.table_descending[tab] = !self.table_descending[tab],
            KeyCode::Char('v') if self.tab == Tab::Traffic => {
                self.traffic_view = self.traffic_view.next();
                // Columns differ from view to view.
                self.table_sort[tab] = None;
                self.table_descending[tab] = false;
                self.selected[tab] = 0;
            }
            _ => return,
        }
        self.refilter();
    }

    fn connections_key(&mut self, code: KeyCode) {
        let kind = match code {
            KeyCode::Char('a') => Kind::All,
            KeyCode::Char('t') => Kind::Tcp,
            KeyCode::Char('u') => Kind::Udp,
            KeyCode::Char('e') => Kind::Established,
            KeyCode::Char('l') => Kind::Listen,
            KeyCode::Char('/') => {
                self.searching = true;
                return;
            }
            KeyCode::Char('s') => {
                let next = Column::ALL
                    .iter()
                    .position(|&c| c == self.sort)
                    .unwrap_or(0)
                    + 1;
                self.sort = Column::ALL[next % Column::ALL.len()];
                self.refilter();
                return;
            }
            KeyCode::Char('r') => {
                self.descending = !self.descending;
                self.refilter();
                return;
            }
            _ => return,
        };
        self.kind = kind;
        self.refilter();
    }

    /// The current tab's search.
    pub fn search(&self) -> &str {
        &self.searches[self.tab.index()]
    }

    fn edit_search(&mut self, code: KeyCode) {
        let search = &mut self.searches[self.tab.index()];
        match code {
            KeyCode::Enter => self.searching = false,
            KeyCode::Esc => {
                self.searching = false;
                search.clear();
            }
            KeyCode::Backspace => {
                search.pop();
            }
            KeyCode::Char(c) => search.push(c),
            _ => return,
        }
        self.refilter();
    }

    /// Rows `tab` lists.
    fn rows(&self, tab: Tab) -> usize {
        let Some(snapshot) = &self.snapshot else {
            return 0;
        };
        match tab {
            Tab::Interfaces => snapshot.interfaces.len(),
            Tab::Connections => self.shown.len(),
            Tab::Ports => self.ports_table.shown.len(),
            Tab::Traffic => self.traffic_table.shown.len(),
        }
    }

    fn move_by(&mut self, delta: isize) {
        let tab = self.tab.index();
        let last = self.rows(self.tab).saturating_sub(1);
        self.selected[tab] = self.selected[tab].saturating_add_signed(delta).min(last);
        self.keep_in_range();
    }

    /// Keeps each tab's selection on a row and on screen, scrolling as little as needed.
    fn keep_in_range(&mut self) {
        for tab in Tab::ALL {
            let rows = self.rows(tab);
            let i = tab.index();
            self.selected[i] = self.selected[i].min(rows.saturating_sub(1));
            let page = self.page.max(1);
            if self.selected[i] < self.offset[i] {
                self.offset[i] = self.selected[i];
            } else if self.selected[i] >= self.offset[i] + page {
                self.offset[i] = self.selected[i] + 1 - page;
            }
            self.offset[i] = self.offset[i].min(rows.saturating_sub(page));
        }
    }

    /// Sets the room the body has (from the terminal's size) and keeps selections visible.
    pub fn set_page(&mut self, rows: usize) {
        self.page = rows.max(1);
        self.keep_in_range();
    }

    /// Recomputes which connections are shown, and their order.
    fn refilter(&mut self) {
        let Some(snapshot) = &self.snapshot else {
            self.shown.clear();
            return;
        };
        let needle = |tab: Tab| self.searches[tab.index()].to_lowercase();
        let (ports, traffic) = (Tab::Ports.index(), Tab::Traffic.index());
        self.ports_table = tables::ports(snapshot);
        self.ports_table.refilter(
            &needle(Tab::Ports),
            self.table_sort[ports],
            self.table_descending[ports],
        );
        self.traffic_table = tables::traffic(snapshot, self.traffic_view);
        self.traffic_table.refilter(
            &needle(Tab::Traffic),
            self.table_sort[traffic],
            self.table_descending[traffic],
        );
        let needle = needle(Tab::Connections);
        let connections = &snapshot.connections;
        self.shown = (0..connections.len())
            .filter(|&i| self.kind.admits(&connections[i]) && matches(&connections[i], &needle))
            .collect();
        let sort = self.sort;
        self.shown.sort_by(|&a, &b| {
            sort.compare(&connections[a], &connections[b])
                .then(a.cmp(&b))
        });
        if self.descending {
            self.shown.reverse();
        }
        self.keep_in_range();
    }
}

/// Whether `needle` (lower case) is in the row's addresses, ports, processes or pids.
fn matches(c: &Connection, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    let remote = c.remote.map(|r| r.to_string()).unwrap_or_default();
    c.local.to_string().contains(needle)
        || remote.contains(needle)
        || c.processes
            .iter()
            .any(|p| p.name.to_lowercase().contains(needle) || p.pid.to_string() == needle)
}
