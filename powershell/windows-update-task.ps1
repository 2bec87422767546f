# wsfc.rolling windows update task 1
# Written to the node by 'wu.start' and run there by a scheduled task as SYSTEM: the Windows Update
# Agent refuses to download and install from a remote (WinRM) session. It survives WinRM drops and
# writes its progress to %ProgramData%\wsfc.rolling\wu-<id>.json, which 'wu.status' reads.
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [ValidatePattern('^[A-Za-z0-9-]{1,64}$')]
    [string]$Id
)

$ErrorActionPreference = 'Stop'
$PSDefaultParameterValues = @{ '*:ErrorAction' = 'Stop' }
$base = Join-Path $env:ProgramData 'wsfc.rolling'
$statusPath = Join-Path $base "wu-$Id.json"
$status = [ordered]@{
    Id = $Id; Mode = $null; Phase = 'Searching'; Progress = 0; Updates = @(); RebootRequired = $false
    RestartPending = $false; Started = (Get-Date).ToUniversalTime().ToString('o'); Finished = $null; Error = $null
}
# IUpdateInstallationResult / IUpdateDownloadResult ResultCode (OperationResultCode)
$resultNames = @('NotStarted', 'InProgress', 'Succeeded', 'SucceededWithErrors', 'Failed', 'Aborted')

function Save-WsfcStatus {
    $temporary = "$statusPath.tmp"
    Set-Content -Path $temporary -Value (ConvertTo-Json -InputObject $status -Depth 6) -Encoding UTF8
    Move-Item -Path $temporary -Destination $statusPath -Force
}

try {
    Save-WsfcStatus
    # Read inside the error handling: a missing or broken request is a Failed job with the reason,
    # not a task that dies without a word.
    $request = Get-Content -Raw -Path (Join-Path $base "wu-$Id.request.json") | ConvertFrom-Json
    $status.Mode = [string]$request.mode
    $session = New-Object -ComObject 'Microsoft.Update.Session'
    $session.ClientApplicationID = 'wsfc.rolling'
    $found = $session.CreateUpdateSearcher().Search("IsInstalled=0 and Type='Software' and IsHidden=0")
    $categories = @($request.categories | ForEach-Object { ([string]$_).ToLowerInvariant() })
    $accept = @($request.accept | ForEach-Object { ([string]$_).ToUpperInvariant() })
    $reject = @($request.reject | ForEach-Object { ([string]$_).ToUpperInvariant() })
    $chosen = New-Object System.Collections.ArrayList
    $views = New-Object System.Collections.ArrayList
    foreach ($update in $found.Updates) {
        $kb = @($update.KBArticleIDs | ForEach-Object { 'KB' + $_ }) | Select-Object -First 1
        $classification = @($update.Categories | Where-Object { $_.Type -eq 'UpdateClassification' } |
                ForEach-Object { [string]$_.Name }) | Select-Object -First 1
        if ($categories.Count -gt 0 -and $categories -notcontains ([string]$classification).ToLowerInvariant()) {
            continue
        }
        if ($accept.Count -gt 0 -and $accept -notcontains ([string]$kb).ToUpperInvariant()) {
            continue
        }
        if ($reject -contains ([string]$kb).ToUpperInvariant()) {
            continue
        }
        if ($update.BrowseOnly -and $accept -notcontains ([string]$kb).ToUpperInvariant()) {
            continue  # optional updates only when named in the accept list
        }
        [void]$chosen.Add($update)
        [void]$views.Add([ordered]@{
                KB = [string]$kb; Title = [string]$update.Title; Classification = [string]$classification
                SizeMB = [int]($update.MaxDownloadSize / 1048576); RebootRequired = ($update.InstallationBehavior.RebootBehavior -ne 0)
                # InstallationImpact 2 = RequiresExclusiveHandling: installed by itself (never while the node serves)
                Exclusive = ([int]$update.InstallationBehavior.Impact -eq 2); Downloaded = [bool]$update.IsDownloaded
                ResultCode = $null; HResult = $null
            })
    }
    $status.Updates = @($views.ToArray())
    if ($status.Mode -eq 'install' -and $chosen.Count -gt 0 -and (New-Object -ComObject 'Microsoft.Update.SystemInfo').RebootRequired) {
        # "A reboot is required before more updates can be installed": installing now would fail
        # or half-install; the controller restarts the node first or stops, as asked.
        $status.RestartPending = $true
        throw 'A restart is pending on this node from an earlier installation; Windows Update installs nothing more until it restarts.'
    }
    $exclusive = @($views | Where-Object { $_.Exclusive } | ForEach-Object { $_.KB })
    if ($status.Mode -eq 'install' -and [bool]$request.serving -and $exclusive.Count -gt 0) {
        throw ("Not installed while the node serves: $($exclusive -join ', ') must be installed by itself (Windows Update " +
            'marks it RequiresExclusiveHandling); nothing was installed.')
    }
    if ($status.Mode -eq 'install' -or $status.Mode -eq 'download') {
        # Each update downloaded (quick when it is already: pre-staged), then installed unless only downloading
        # (pre-staging while the node serves: installed later from the node's cache).
        for ($index = 0; $index -lt $chosen.Count; $index++) {
            $update = $chosen[$index]
            $one = New-Object -ComObject 'Microsoft.Update.UpdateColl'
            if (-not $update.EulaAccepted) {
                $update.AcceptEula()
            }
            [void]$one.Add($update)
            $status.Phase = 'Downloading'
            Save-WsfcStatus
            $downloader = $session.CreateUpdateDownloader()
            $downloader.Updates = $one
            $download = $downloader.Download().GetUpdateResult(0)
            if ($status.Mode -eq 'download' -or ([int]$download.ResultCode -ne 2 -and [int]$download.ResultCode -ne 3)) {
                # Only downloading, or not downloaded (installing it would only fail with a less telling code).
                $views[$index].ResultCode = $resultNames[[int]$download.ResultCode]
                $views[$index].HResult = [int]$download.HResult
            }
            else {
                $status.Phase = 'Installing'
                Save-WsfcStatus
                $installer = $session.CreateUpdateInstaller()
                $installer.Updates = $one
                $outcome = $installer.Install()
                $result = $outcome.GetUpdateResult(0)
                $views[$index].ResultCode = $resultNames[[int]$result.ResultCode]
                $views[$index].HResult = [int]$result.HResult
                if ($outcome.RebootRequired) {
                    $status.RebootRequired = $true
                }
            }
            $status.Progress = [int](100 * ($index + 1) / $chosen.Count)
            $status.Updates = @($views.ToArray())
            Save-WsfcStatus
        }
    }
    $failed = @($views | Where-Object { $_.ResultCode -eq 'Failed' -or $_.ResultCode -eq 'Aborted' })
    if ($failed.Count -gt 0) {
        $status.Phase = 'Failed'
    }
    else {
        $status.Phase = 'Completed'
    }
}
catch {
    $status.Phase = 'Failed'
    $status.Error = $_.Exception.Message
}
$status.Progress = 100
$status.Finished = (Get-Date).ToUniversalTime().ToString('o')
Save-WsfcStatus
