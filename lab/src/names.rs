//! Name lists of the simulated domain: popular and background web sites, attacker
//! infrastructure, people's names and the syllables of the long tail of sites. Flat lists only.

/// Popular sites: most browsing goes here.
pub(crate) const POPULAR: [&str; 40] = [
    "www.google.com",
    "login.microsoftonline.com",
    "outlook.office365.com",
    "teams.microsoft.com",
    "www.office.com",
    "graph.microsoft.com",
    "substrate.office.com",
    "contoso.sharepoint.com",
    "www.bing.com",
    "fonts.gstatic.com",
    "fonts.googleapis.com",
    "ajax.googleapis.com",
    "www.gstatic.com",
    "www.youtube.com",
    "i.ytimg.com",
    "www.linkedin.com",
    "static.licdn.com",
    "github.com",
    "avatars.githubusercontent.com",
    "stackoverflow.com",
    "en.wikipedia.org",
    "upload.wikimedia.org",
    "yle.fi",
    "www.hs.fi",
    "www.bbc.co.uk",
    "www.reuters.com",
    "cdn.jsdelivr.net",
    "cdnjs.cloudflare.com",
    "www.googletagmanager.com",
    "www.google-analytics.com",
    "static.xx.fbcdn.net",
    "www.facebook.com",
    "docs.microsoft.com",
    "learn.microsoft.com",
    "www.amazon.com",
    "images-eu.ssl-images-amazon.com",
    "zoom.us",
    "slack.com",
    "www.dropbox.com",
    "accounts.google.com",
];

/// Sites that background software talks to.
pub(crate) const BACKGROUND: [&str; 14] = [
    "v10.events.data.microsoft.com",
    "settings-win.data.microsoft.com",
    "ctldl.windowsupdate.com",
    "slscr.update.microsoft.com",
    "fe3cr.delivery.mp.microsoft.com",
    "wdcp.microsoft.com",
    "definitionupdates.microsoft.com",
    "go.microsoft.com",
    "oneclient.sfx.ms",
    "g.live.com",
    "downloads.dell.com",
    "officecdn.microsoft.com",
    "nav.smartscreen.microsoft.com",
    "clientconfig.passport.net",
];

/// Attacker infrastructure: (DNS name, IP). Documentation address ranges (RFC 5737) and
/// reserved names (RFC 2606), so no real party is labelled malicious.
pub(crate) const ATTACKER_SITES: [(&str, &str); 5] = [
    ("health.cdn-status.example.net", "203.0.113.45"),
    ("update.ms-sync.example.org", "198.51.100.77"),
    ("files.dl-share.example.com", "192.0.2.14"),
    ("cdn.invoice-docs.example.com", "203.0.113.99"),
    ("static.cloud-assets.example.net", "198.51.100.23"),
];

pub(crate) const FIRST: [&str; 20] = [
    "Aino", "Mikko", "Laura", "Juha", "Sanna", "Timo", "Emma", "Ville", "Hanna", "Antti",
    "Sarah", "James", "Olivia", "Daniel", "Maria", "Peter", "Noora", "Kalle", "Elina",
    "Petri",
];
pub(crate) const LAST: [&str; 20] = [
    "Virtanen",
    "Korhonen",
    "Nieminen",
    "Makinen",
    "Hamalainen",
    "Laine",
    "Heikkinen",
    "Koskinen",
    "Jarvinen",
    "Lehtonen",
    "Smith",
    "Johnson",
    "Brown",
    "Taylor",
    "Wilson",
    "Davies",
    "Evans",
    "Walker",
    "Wright",
    "Hughes",
];
pub(crate) const SYLLABLES: [&str; 24] = [
    "net", "data", "cloud", "sky", "blue", "nord", "tech", "soft", "media", "shop",
    "news", "web", "fin", "arc", "log", "mark", "pro", "time", "line", "star", "hub",
    "zen", "go", "max",
];
pub(crate) const TLDS: [&str; 6] = [".com", ".net", ".fi", ".io", ".org", ".eu"];
pub(crate) const SERVICE_ACCOUNTS: [&str; 5] =
    ["svc-backup", "svc-sql", "svc-sccm", "svc-web", "svc-print"];
