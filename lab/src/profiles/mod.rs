//! What each benign program looks like: image, command lines, who runs it, how many image
//! loads it makes after starting, how long it lives, and which events it emits afterwards.
//!
//! This is a flat table, one constant per program. A process's events always start with its
//! Sysmon 1 and its image loads, then follow the program's activity mix, so every image has a
//! typical event sequence that a sequence model can learn.

use super::topology::Svc;

mod system;
mod user;

use system::*;
use user::*;

/// Who a program runs as.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Who {
    /// The logged-on user of the session.
    Session,
    /// `NT AUTHORITY\SYSTEM`.
    System,
    /// `NT AUTHORITY\NETWORK SERVICE`.
    NetworkService,
    /// The parent process's user.
    Parent,
    /// The n-th service account (`svc-backup`, `svc-sql`, `svc-sccm`, `svc-web`, `svc-print`).
    Service(u16),
}

/// A server a program talks to.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Target {
    Dc,
    Fs,
}

/// One kind of activity step.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Act {
    /// DNS lookup and one to three connections to a browsing destination.
    Browse,
    /// DNS lookup and a connection to a named background site.
    Site(&'static str),
    /// Connection to a service of an internal server, sometimes after a DNS lookup.
    Internal(Target, Svc),
    /// A file created from one of the templates.
    File(&'static [&'static str]),
    PipeCreate,
    PipeConnect,
    Load,
}

/// A benign program.
#[derive(Debug)]
pub(crate) struct Profile {
    pub image: &'static str,
    pub cmds: &'static [&'static str],
    pub cwd: &'static str,
    pub who: Who,
    pub loads: (u32, u32),
    /// Lifetime in seconds, drawn log-uniformly.
    pub life_s: (u32, u32),
    pub steps: (u32, u32),
    pub acts: &'static [(Act, u32)],
    /// Children: (program, least, most).
    pub children: &'static [(&'static Profile, u32, u32)],
}

/// The programs of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum P {
    Chrome,
    Edge,
    Outlook,
    Teams,
    Word,
    Excel,
    PowerPoint,
    Acrobat,
    Notepad,
    Cmd,
    PowerShell,
    Mstsc,
    OneDrive,
    Explorer,
    Userinit,
    SvchostShort,
    Taskhostw,
    MpCmdRun,
    WmiPrvSe,
    Dllhost,
    SearchProtocolHost,
    CompatTelRunner,
    MoUsoCoreWorker,
    BackupAgent,
    Sppsvc,
    RuntimeBroker,
    BackgroundTaskHost,
    CcmEval,
}

const OFFICE_LOADS: (u32, u32) = (40, 80);
const DOC_FILES: &[&str] = &[
    r"C:\Users\{user}\AppData\Local\Temp\~DF{hex4}.tmp",
    r"C:\Users\{user}\AppData\Roaming\Microsoft\Office\Recent\{doc}.LNK",
    r"C:\Users\{user}\Documents\{doc}.docx",
    r"C:\Users\{user}\AppData\Local\Microsoft\Windows\INetCache\Content.MSO\{hex8}.tmp",
];
const XLS_FILES: &[&str] = &[
    r"C:\Users\{user}\AppData\Local\Temp\~DF{hex4}.tmp",
    r"C:\Users\{user}\Documents\{doc}.xlsx",
    r"C:\Users\{user}\AppData\Roaming\Microsoft\Excel\~ar{hex4}.xar",
];
const CHROME_FILES: &[&str] = &[
    r"C:\Users\{user}\AppData\Local\Google\Chrome\User Data\Default\Cache\Cache_Data\f_{hex6}",
    r"C:\Users\{user}\AppData\Local\Google\Chrome\User Data\Default\Cache\Cache_Data\f_{hex6}",
    r"C:\Users\{user}\AppData\Local\Google\Chrome\User Data\Default\Network\Cookies-journal",
    r"C:\Users\{user}\AppData\Local\Google\Chrome\User Data\Default\History-journal",
    r"C:\Users\{user}\Downloads\{doc}.pdf",
];
const EDGE_FILES: &[&str] = &[
    r"C:\Users\{user}\AppData\Local\Microsoft\Edge\User Data\Default\Cache\Cache_Data\f_{hex6}",
    r"C:\Users\{user}\AppData\Local\Microsoft\Edge\User Data\Default\History-journal",
];
const OUTLOOK_FILES: &[&str] = &[
    r"C:\Users\{user}\AppData\Local\Microsoft\Outlook\{user}@contoso.com.ost.tmp",
    r"C:\Users\{user}\AppData\Local\Microsoft\Windows\INetCache\Content.Outlook\{hex8}\{doc}.pdf",
    r"C:\Users\{user}\AppData\Local\Temp\Outlook Logging\Outlook-{hex6}.etl",
];
const TEAMS_FILES: &[&str] = &[
    r"C:\Users\{user}\AppData\Roaming\Microsoft\Teams\Cache\f_{hex6}",
    r"C:\Users\{user}\AppData\Roaming\Microsoft\Teams\IndexedDB\https_teams.microsoft.com_0.indexeddb.leveldb\{n4}.log",
];
const TEXT_FILES: &[&str] = &[r"C:\Users\{user}\Documents\{doc}.txt"];
const PDF_FILES: &[&str] = &[
    r"C:\Users\{user}\AppData\LocalLow\Adobe\Acrobat\DC\ConnectorIcons\icon-{hex6}.png",
    r"C:\Users\{user}\AppData\Local\Temp\acrord32_sbx\A9R{hex4}.tmp",
];
const PS_FILES: &[&str] = &[
    r"C:\Users\{user}\AppData\Local\Temp\__PSScriptPolicyTest_{hex8}.{hex4}.ps1",
    r"C:\Users\{user}\AppData\Local\Temp\__PSScriptPolicyTest_{hex8}.{hex4}.psm1",
    r"C:\Users\{user}\AppData\Local\Microsoft\Windows\PowerShell\StartupProfileData-Interactive",
];
const ONEDRIVE_FILES: &[&str] = &[
    r"C:\Users\{user}\AppData\Local\Microsoft\OneDrive\logs\Personal\SyncDiagnostics.log",
    r"C:\Users\{user}\OneDrive - Contoso\Documents\{doc}.docx",
];
const EXPLORER_FILES: &[&str] = &[
    r"C:\Users\{user}\AppData\Roaming\Microsoft\Windows\Recent\{doc}.lnk",
    r"C:\Users\{user}\AppData\Local\Microsoft\Windows\Explorer\thumbcache_{hex4}.db",
    r"C:\Users\{user}\Downloads\{doc}.zip",
];
const SVC_FILES: &[&str] = &[
    r"C:\Windows\Prefetch\{exe}-{hex8}.pf",
    r"C:\Windows\SoftwareDistribution\Download\{hex8}\{hex6}.cab",
    r"C:\Windows\ServiceProfiles\LocalService\AppData\Local\Temp\TMP{hex8}",
];
const TASK_FILES: &[&str] =
    &[r"C:\Windows\System32\Tasks\Microsoft\Windows\{exe}-{hex4}.job"];
const DEF_FILES: &[&str] = &[
    r"C:\ProgramData\Microsoft\Windows Defender\Definition Updates\{{guid}}\mpasdlta.vdm",
    r"C:\ProgramData\Microsoft\Windows Defender\Scans\mpcache-{hex8}.bin",
];
const COMPAT_FILES: &[&str] = &[
    r"C:\Windows\appcompat\appraiser\APPRAISER_TelemetryBaseline_{hex4}.bin",
    r"C:\Windows\appcompat\Programs\Amcache.hve.tmp",
];
const BACKUP_FILES: &[&str] = &[
    r"D:\Backup\{host}\{doc}_{n4}.vbk",
    r"D:\Backup\Shared\{doc}_{n4}.vib",
    r"C:\ProgramData\BackupAgent\Logs\job-{n4}.log",
];
const CCM_FILES: &[&str] = &[
    r"C:\Windows\CCM\Logs\CcmEval.log",
    r"C:\Windows\ccmcache\{hex4}\{hex8}.xml",
];

/// The program table.
pub(crate) fn profile(p: P) -> &'static Profile {
    match p {
        P::Chrome => &CHROME,
        P::Edge => &EDGE,
        P::Outlook => &OUTLOOK,
        P::Teams => &TEAMS,
        P::Word => &WORD,
        P::Excel => &EXCEL,
        P::PowerPoint => &POWERPOINT,
        P::Acrobat => &ACROBAT,
        P::Notepad => &NOTEPAD,
        P::Cmd => &CMD,
        P::PowerShell => &POWERSHELL,
        P::Mstsc => &MSTSC,
        P::OneDrive => &ONEDRIVE,
        P::Explorer => &EXPLORER,
        P::Userinit => &USERINIT,
        P::SvchostShort => &SVCHOST_SHORT,
        P::Taskhostw => &TASKHOSTW,
        P::MpCmdRun => &MPCMDRUN,
        P::WmiPrvSe => &WMIPRVSE,
        P::Dllhost => &DLLHOST,
        P::SearchProtocolHost => &SEARCH_PROTOCOL_HOST,
        P::CompatTelRunner => &COMPAT_TEL_RUNNER,
        P::MoUsoCoreWorker => &MOUSO,
        P::BackupAgent => &BACKUP_AGENT,
        P::Sppsvc => &SPPSVC,
        P::RuntimeBroker => &RUNTIME_BROKER,
        P::BackgroundTaskHost => &BACKGROUND_TASK_HOST,
        P::CcmEval => &CCM_EVAL,
    }
}

/// Asserts a program and its children are well formed (tests of the profile tables).
#[cfg(test)]
pub(crate) fn check(prof: &Profile) {
    let name = prof.image;
    assert!(!prof.cmds.is_empty(), "{name}");
    assert!(prof.loads.0 <= prof.loads.1, "{name}");
    assert!(
        prof.life_s.0 <= prof.life_s.1 && prof.life_s.0 > 0,
        "{name}"
    );
    assert!(prof.steps.0 <= prof.steps.1, "{name}");
    assert!(prof.steps.1 == 0 || !prof.acts.is_empty(), "{name}");
    assert!(prof.image.starts_with(r"C:\"), "{name}");
    for &(child, lo, hi) in prof.children {
        assert!(lo <= hi, "{name}");
        check(child);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [P; 28] = [
        P::Chrome,
        P::Edge,
        P::Outlook,
        P::Teams,
        P::Word,
        P::Excel,
        P::PowerPoint,
        P::Acrobat,
        P::Notepad,
        P::Cmd,
        P::PowerShell,
        P::Mstsc,
        P::OneDrive,
        P::Explorer,
        P::Userinit,
        P::SvchostShort,
        P::Taskhostw,
        P::MpCmdRun,
        P::WmiPrvSe,
        P::Dllhost,
        P::SearchProtocolHost,
        P::CompatTelRunner,
        P::MoUsoCoreWorker,
        P::BackupAgent,
        P::Sppsvc,
        P::RuntimeBroker,
        P::BackgroundTaskHost,
        P::CcmEval,
    ];

    #[test]
    fn every_profile_is_well_formed() {
        for p in ALL {
            check(profile(p));
        }
    }
}
