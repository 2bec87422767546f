# wsfc.rolling os upgrade task 1
# Written to the node by 'node.os_upgrade' and run there by a scheduled task as SYSTEM. Picks the
# image of the node's own edition on the media, runs Windows Setup unattended and records in
# %ProgramData%\wsfc.rolling\os-upgrade.json what happened; 'node.os_upgrade_status' reads it.
# When setup succeeds it restarts the node (and this task with it); when it refuses, it exits with
# a code (windows-setup-command-line-options: "Windows Setup will exit silently and log an exit
# code"), which is written here for the controller to report within one poll.
[CmdletBinding()]
param()

$ErrorActionPreference = 'Stop'
$PSDefaultParameterValues = @{ '*:ErrorAction' = 'Stop' }
$base = Join-Path $env:ProgramData 'wsfc.rolling'
$statusPath = Join-Path $base 'os-upgrade.json'
$logPath = Join-Path $base 'setup-logs'
$status = [ordered]@{
    Phase = 'Choosing image'; Edition = $null; ImageIndex = $null; ExitCode = $null; LogPath = $logPath; Error = $null
    Started = (Get-Date).ToUniversalTime().ToString('o')
}

function Save-WsfcStatus {
    $temporary = "$statusPath.tmp"
    Set-Content -Path $temporary -Value (ConvertTo-Json -InputObject $status -Depth 4) -Encoding UTF8
    Move-Item -Path $temporary -Destination $statusPath -Force
}

try {
    Save-WsfcStatus
    $request = Get-Content -Raw -Path (Join-Path $base 'os-upgrade.request.json') | ConvertFrom-Json
    $media = [string]$request.media
    $version = Get-ItemProperty -Path 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion'
    $edition = [string]$version.EditionID
    $installation = [string]$version.InstallationType
    $status.Edition = "$edition ($installation)"
    # Server media carry several images (Standard, Datacenter; Server Core and Desktop Experience):
    # without /ImageIndex a quiet setup can fail with 0xC1900215 (no matching install image).
    $image = Join-Path $media 'sources\install.wim'
    if (-not (Test-Path -LiteralPath $image)) {
        $image = Join-Path $media 'sources\install.esd'
    }
    $offered = New-Object System.Collections.ArrayList
    foreach ($entry in @(Get-WindowsImage -ImagePath $image)) {
        $detail = Get-WindowsImage -ImagePath $image -Index $entry.ImageIndex
        [void]$offered.Add(('{0}: {1} {2}' -f $entry.ImageIndex, $detail.EditionId, $detail.InstallationType))
        if ([string]$detail.EditionId -eq $edition -and [string]$detail.InstallationType -eq $installation) {
            $status.ImageIndex = [int]$entry.ImageIndex
            break
        }
    }
    if ($null -eq $status.ImageIndex) {
        throw ('The media at {0} has no image of this node''s edition {1}; it offers {2}.' -f $media, $status.Edition, ($offered -join ', '))
    }
    [void](New-Item -ItemType Directory -Path $logPath -Force)
    $dynamic = if ([bool]$request.dynamic_update) { 'Enable' } else { 'Disable' }
    $arguments = @('/Auto', 'Upgrade', '/Quiet', '/EULA', 'accept', '/Compat', 'IgnoreWarning', '/ImageIndex', $status.ImageIndex,
        '/DynamicUpdate', $dynamic, '/CopyLogs', "`"$logPath`"")
    $status.Phase = 'Running setup'
    Save-WsfcStatus
    $process = Start-Process -FilePath (Join-Path $media 'setup.exe') -ArgumentList $arguments -Wait -PassThru
    $status.ExitCode = [long]$process.ExitCode
    $status.Phase = 'Setup exited'
}
catch {
    $status.Phase = 'Failed'
    $status.Error = $_.Exception.Message
}
Save-WsfcStatus
