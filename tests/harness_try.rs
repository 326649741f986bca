#[path = "daemon/mail_servers.rs"]
mod mail_servers;
#[path = "daemon/servers_smoke.rs"]
mod servers_smoke;
