use netpilot_core::ports::{FdTableError, ProcessSource};
use netpilot_linux::ProcFs;
use netpilot_testkit::Holder;

#[test]
fn the_sockets_of_another_process_are_found_by_inode() {
    if !super::fresh_namespace("the_sockets_of_another_process_are_found_by_inode") {
        return;
    }
    let mut holder = Holder::spawn("np-procfs").unwrap();
    let port = holder.listen("tcp", "127.0.0.1", 0);
    let procfs = ProcFs::open().unwrap();
    assert!(procfs.pids().unwrap().contains(&holder.pid()));
    assert_eq!(
        procfs.process_name(holder.pid()).as_deref(),
        Some("np-procfs")
    );
    let mut inodes = Vec::new();
    procfs.socket_inodes(holder.pid(), &mut inodes).unwrap();
    let listener = super::dump(&netpilot_core::ports::SocketQuery::all())
        .into_iter()
        .find(|s| s.local.port() == port)
        .expect("the holder's listener is dumped");
    assert_eq!(inodes, vec![listener.inode]);
    assert_eq!(procfs.user_name(0).as_deref(), Some("root"));
}

#[test]
fn a_process_that_exited_is_gone() {
    if !netpilot_testkit::require_root("a_process_that_exited_is_gone") {
        return;
    }
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    let mut inodes = Vec::new();
    assert_eq!(
        ProcFs::open().unwrap().socket_inodes(pid, &mut inodes),
        Err(FdTableError::Gone)
    );
}
