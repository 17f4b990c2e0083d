//! The chains of the `long-tail` profile: installers, scheduled tasks, developer tools and
//! administrators' commands.

use super::{Chain, From, Step, step};

pub(super) const PROJECTS: [&str; 10] = [
    "invoice-service",
    "requests",
    "pandas",
    "lodash",
    "express",
    "reporting-tool",
    "hr-portal",
    "pytest",
    "typescript",
    "data-pipeline",
];

pub(super) static INSTALLERS: [Chain; 10] = [
    Chain {
        from: From::Schedule,
        steps: &[
            step(
                r"C:\ProgramData\Package Cache\{{G}}\VC_redist.x64.exe",
                r#""C:\ProgramData\Package Cache\{{G}}\VC_redist.x64.exe" /install /quiet /norestart"#,
                14,
            ),
            Step {
                image: r"C:\Windows\Temp\{{G2}}\.be\VC_redist.x64.exe",
                cmd: r#""C:\Windows\Temp\{{G2}}\.be\VC_redist.x64.exe" -q -burn.elevated BurnPipe.{{G}} {{G2}} 10{N}4"#,
                loads: 16,
                files: &[
                    r"C:\Windows\System32\vcruntime140_1.dll",
                    r"C:\Windows\System32\msvcp140.dll",
                ],
                site: None,
            },
        ],
    },
    Chain {
        from: From::Schedule,
        steps: &[
            Step {
                image: r"C:\Program Files (x86)\Google\Update\1.3.36.{V}\GoogleUpdate.exe",
                cmd: r#""C:\Program Files (x86)\Google\Update\1.3.36.{V}\GoogleUpdate.exe" /ua /installsource scheduler"#,
                loads: 18,
                files: &[],
                site: Some("update.googleapis.com"),
            },
            Step {
                image: r"C:\Program Files (x86)\Google\Update\Install\{{G}}\CR_{X}.tmp\setup.exe",
                cmd: r#""C:\Program Files (x86)\Google\Update\Install\{{G}}\CR_{X}.tmp\setup.exe" --install-archive="C:\Program Files (x86)\Google\Update\Install\{{G}}\CR_{X}.tmp\CHROME.PACKED.7Z" --verbose-logging --do-not-launch-chrome --system-level"#,
                loads: 20,
                files: &[
                    r"C:\Program Files\Google\Chrome\Application\12{N}.0.6478.{V}\chrome.dll",
                ],
                site: None,
            },
        ],
    },
    Chain {
        from: From::Schedule,
        steps: &[
            Step {
                image: r"C:\Program Files (x86)\Microsoft\EdgeUpdate\MicrosoftEdgeUpdate.exe",
                cmd: r#""C:\Program Files (x86)\Microsoft\EdgeUpdate\MicrosoftEdgeUpdate.exe" /ua /installsource scheduler"#,
                loads: 18,
                files: &[],
                site: Some("msedge.api.cdp.microsoft.com"),
            },
            step(
                r"C:\Program Files (x86)\Microsoft\EdgeUpdate\Install\{{G}}\MicrosoftEdge_X64_12{N}.0.2592.{V}.exe",
                r#""C:\Program Files (x86)\Microsoft\EdgeUpdate\Install\{{G}}\MicrosoftEdge_X64_12{N}.0.2592.{V}.exe" --msedge --channel=stable --system-level --verbose-logging"#,
                12,
            ),
            Step {
                image: r"C:\Program Files (x86)\Microsoft\EdgeUpdate\Install\{{G}}\EDGEMITMP_{X}.tmp\setup.exe",
                cmd: r#""C:\Program Files (x86)\Microsoft\EdgeUpdate\Install\{{G}}\EDGEMITMP_{X}.tmp\setup.exe" --install-archive="C:\Program Files (x86)\Microsoft\EdgeUpdate\Install\{{G}}\MSEDGE.PACKED.7Z" --msedge --channel=stable --system-level --verbose-logging"#,
                loads: 20,
                files: &[
                    r"C:\Program Files (x86)\Microsoft\Edge\Application\12{N}.0.2592.{V}\msedge.dll",
                ],
                site: None,
            },
        ],
    },
    Chain {
        from: From::Schedule,
        steps: &[Step {
            image: r"C:\Windows\SoftwareDistribution\Download\Install\AM_Delta_Patch_1.40{N}.{V}.0.exe",
            cmd: r#""C:\Windows\SoftwareDistribution\Download\Install\AM_Delta_Patch_1.40{N}.{V}.0.exe" WD /q"#,
            loads: 10,
            files: &[
                r"C:\ProgramData\Microsoft\Windows Defender\Definition Updates\{{G}}\mpasdlta.vdm",
            ],
            site: None,
        }],
    },
    Chain {
        from: From::Schedule,
        steps: &[
            step(
                r"C:\Windows\SoftwareDistribution\Download\Install\Windows-KB890830-x64-V5.12{N}.exe",
                r#""C:\Windows\SoftwareDistribution\Download\Install\Windows-KB890830-x64-V5.12{N}.exe" /Q /W"#,
                9,
            ),
            step(
                r"C:\Windows\System32\MRT.exe",
                r"C:\Windows\system32\MRT.exe /EHB /Q",
                25,
            ),
        ],
    },
    Chain {
        from: From::Services,
        steps: &[step(
            r"C:\Windows\Temp\{{G}}\DismHost.exe",
            r"C:\Windows\TEMP\{{G}}\dismhost.exe {{G2}}",
            22,
        )],
    },
    Chain {
        from: From::Schedule,
        steps: &[
            Step {
                image: r"C:\Program Files (x86)\Common Files\Adobe\ARM\1.0\AdobeARM.exe",
                cmd: r#""C:\Program Files (x86)\Common Files\Adobe\ARM\1.0\AdobeARM.exe" "#,
                loads: 15,
                files: &[],
                site: Some("armmf.adobe.com"),
            },
            step(
                r"C:\Program Files (x86)\Common Files\Adobe\ARM\1.0\AdobeARMHelper.exe",
                r#""C:\Program Files (x86)\Common Files\Adobe\ARM\1.0\AdobeARMHelper.exe" /PipeName {X}"#,
                8,
            ),
        ],
    },
    Chain {
        from: From::Schedule,
        steps: &[Step {
            image: r"C:\Program Files\Common Files\microsoft shared\ClickToRun\OfficeC2RClient.exe",
            cmd: r#""C:\Program Files\Common Files\microsoft shared\ClickToRun\OfficeC2RClient.exe" /frequentupdate SCHEDULEDTASK displaylevel=False"#,
            loads: 20,
            files: &[
                r"C:\Program Files\Common Files\microsoft shared\ClickToRun\Updates\Download\PackageFiles\{G}\root\stream.x64.x-none.dat",
            ],
            site: Some("officecdn.microsoft.com"),
        }],
    },
    Chain {
        from: From::Services,
        steps: &[
            step(
                r"C:\Windows\System32\msiexec.exe",
                r"C:\Windows\system32\msiexec.exe /V",
                12,
            ),
            step(
                r"C:\Windows\SysWOW64\msiexec.exe",
                r"C:\Windows\syswow64\MsiExec.exe -Embedding {X}{X}{X}{X} C",
                14,
            ),
            step(
                r"C:\Windows\Installer\MSI{X}.tmp",
                r#""C:\Windows\Installer\MSI{X}.tmp" /silent"#,
                8,
            ),
        ],
    },
    Chain {
        from: From::User,
        steps: &[
            step(
                r"C:\Users\{user}\Downloads\{P}-setup-2.{N}.{V}.exe",
                r#""C:\Users\{user}\Downloads\{P}-setup-2.{N}.{V}.exe" "#,
                10,
            ),
            Step {
                image: r"C:\Users\{user}\AppData\Local\Temp\is-{X}.tmp\{P}-setup-2.{N}.{V}.tmp",
                cmd: r#""C:\Users\{user}\AppData\Local\Temp\is-{X}.tmp\{P}-setup-2.{N}.{V}.tmp" /SL5="${X},{N}8241,832512,C:\Users\{user}\Downloads\{P}-setup-2.{N}.{V}.exe""#,
                loads: 14,
                files: &[r"C:\Users\{user}\AppData\Local\Programs\{P}\{P}.exe"],
                site: None,
            },
        ],
    },
];

pub(super) static TASKS: [Chain; 12] = [
    Chain {
        from: From::Schedule,
        steps: &[step(
            r"C:\Windows\System32\defrag.exe",
            r"C:\Windows\system32\defrag.exe -c -h -o -$",
            10,
        )],
    },
    Chain {
        from: From::Schedule,
        steps: &[step(
            r"C:\Windows\System32\cleanmgr.exe",
            r"C:\Windows\system32\cleanmgr.exe /autoclean /d C:",
            18,
        )],
    },
    Chain {
        from: From::Schedule,
        steps: &[step(
            r"C:\Windows\System32\disksnapshot.exe",
            r"C:\Windows\system32\disksnapshot.exe -z",
            6,
        )],
    },
    Chain {
        from: From::Schedule,
        steps: &[step(
            r"C:\Windows\System32\DeviceCensus.exe",
            r"C:\Windows\system32\devicecensus.exe SystemCxt",
            12,
        )],
    },
    Chain {
        from: From::Schedule,
        steps: &[step(
            r"C:\Windows\System32\srtasks.exe",
            r"C:\Windows\system32\srtasks.exe ExecuteScheduledSPPCreation",
            9,
        )],
    },
    Chain {
        from: From::Schedule,
        steps: &[step(
            r"C:\Windows\System32\wermgr.exe",
            r"C:\Windows\system32\wermgr.exe -upload",
            11,
        )],
    },
    Chain {
        from: From::Schedule,
        steps: &[step(
            r"C:\Windows\System32\dstokenclean.exe",
            r"C:\Windows\system32\dstokenclean.exe",
            5,
        )],
    },
    Chain {
        from: From::Schedule,
        steps: &[step(
            r"C:\Windows\System32\usoclient.exe",
            r"C:\Windows\system32\usoclient.exe StartScan",
            8,
        )],
    },
    Chain {
        from: From::Schedule,
        steps: &[step(
            r"C:\Windows\System32\sc.exe",
            r"C:\Windows\system32\sc.exe start w32time task_started",
            3,
        )],
    },
    Chain {
        from: From::Schedule,
        steps: &[step(
            r"C:\Windows\System32\rundll32.exe",
            r"C:\Windows\system32\rundll32.exe Windows.Storage.ApplicationData.dll,CleanupTemporaryState",
            7,
        )],
    },
    Chain {
        from: From::Schedule,
        steps: &[step(
            r"C:\Windows\System32\BthUdTask.exe",
            r"BthUdTask.exe $(Arg0)",
            4,
        )],
    },
    Chain {
        from: From::Schedule,
        steps: &[step(
            r"C:\Windows\System32\tzsync.exe",
            r"C:\Windows\system32\tzsync.exe",
            4,
        )],
    },
];

const SHELL: Step = step(
    r"C:\Windows\System32\cmd.exe",
    r#""C:\Windows\system32\cmd.exe" "#,
    3,
);
const PWSH: Step = step(
    r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
    r#""C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe" "#,
    30,
);

pub(super) static DEV: [Chain; 5] = [
    Chain {
        from: From::User,
        steps: &[
            SHELL,
            step(
                r"C:\Program Files\Git\cmd\git.exe",
                r"git  clone https://github.com/contoso/{P}.git",
                8,
            ),
            Step {
                image: r"C:\Program Files\Git\mingw64\libexec\git-core\git-remote-https.exe",
                cmd: r"git-remote-https origin https://github.com/contoso/{P}.git",
                loads: 9,
                files: &[r"C:\Users\{user}\source\repos\{P}\.git\packed-refs"],
                site: Some("github.com"),
            },
        ],
    },
    Chain {
        from: From::User,
        steps: &[
            PWSH,
            Step {
                image: r"C:\Users\{user}\AppData\Local\Programs\Python\Python312\python.exe",
                cmd: r#""C:\Users\{user}\AppData\Local\Programs\Python\Python312\python.exe" -m pip install --upgrade {P}"#,
                loads: 25,
                files: &[
                    r"C:\Users\{user}\AppData\Local\Programs\Python\Python312\Lib\site-packages\{P}\__init__.py",
                ],
                site: Some("files.pythonhosted.org"),
            },
        ],
    },
    Chain {
        from: From::User,
        steps: &[
            SHELL,
            Step {
                image: r"C:\Program Files\nodejs\node.exe",
                cmd: r#""C:\Program Files\nodejs\node.exe" "C:\Program Files\nodejs\node_modules\npm\bin\npm-cli.js" install {P}"#,
                loads: 20,
                files: &[
                    r"C:\Users\{user}\source\repos\{P}\node_modules\.package-lock.json",
                ],
                site: Some("registry.npmjs.org"),
            },
        ],
    },
    Chain {
        from: From::User,
        steps: &[
            SHELL,
            Step {
                image: r"C:\Program Files\Microsoft Visual Studio\2022\Professional\MSBuild\Current\Bin\amd64\MSBuild.exe",
                cmd: r#""C:\Program Files\Microsoft Visual Studio\2022\Professional\MSBuild\Current\Bin\amd64\MSBuild.exe" {P}.sln /t:Build /p:Configuration=Release /m"#,
                loads: 40,
                files: &[r"C:\Users\{user}\source\repos\{P}\bin\Release\{P}.dll"],
                site: None,
            },
        ],
    },
    Chain {
        from: From::User,
        steps: &[
            PWSH,
            Step {
                image: r"C:\Program Files\dotnet\dotnet.exe",
                cmd: r#""C:\Program Files\dotnet\dotnet.exe" build {P}.csproj -c Release"#,
                loads: 30,
                files: &[r"C:\Users\{user}\source\repos\{P}\obj\project.assets.json"],
                site: Some("api.nuget.org"),
            },
        ],
    },
];

/// An admin command: the admin's shell and the tool.
pub(super) static ADMIN: [[Step; 2]; 14] = [
    [
        SHELL,
        step(r"C:\Windows\System32\ipconfig.exe", "ipconfig  /all", 4),
    ],
    [
        SHELL,
        step(
            r"C:\Windows\System32\ipconfig.exe",
            "ipconfig  /flushdns",
            4,
        ),
    ],
    [
        SHELL,
        step(r"C:\Windows\System32\whoami.exe", "whoami  /groups", 5),
    ],
    [
        SHELL,
        step(r"C:\Windows\System32\whoami.exe", "whoami  /priv", 5),
    ],
    [
        SHELL,
        step(r"C:\Windows\System32\gpupdate.exe", "gpupdate  /force", 9),
    ],
    [
        SHELL,
        step(
            r"C:\Windows\System32\gpresult.exe",
            "gpresult  /r /scope computer",
            10,
        ),
    ],
    [
        SHELL,
        step(
            r"C:\Windows\System32\net.exe",
            r"net  use Z: \\FS01\Shared /persistent:no",
            5,
        ),
    ],
    [
        SHELL,
        step(
            r"C:\Windows\System32\net.exe",
            "net  user {other} /domain",
            5,
        ),
    ],
    [
        SHELL,
        step(
            r"C:\Windows\System32\nltest.exe",
            "nltest  /dsgetdc:contoso.local",
            6,
        ),
    ],
    [
        SHELL,
        step(r"C:\Windows\System32\klist.exe", "klist  purge", 4),
    ],
    [
        SHELL,
        step(r"C:\Windows\System32\NETSTAT.EXE", "netstat  -ano", 4),
    ],
    [
        SHELL,
        step(
            r"C:\Windows\System32\tasklist.exe",
            "tasklist  /v /s {host}",
            7,
        ),
    ],
    [
        SHELL,
        step(r"C:\Windows\System32\nslookup.exe", "nslookup  {host}", 5),
    ],
    [
        SHELL,
        step(r"C:\Windows\System32\quser.exe", "quser  /server:{host}", 4),
    ],
];
