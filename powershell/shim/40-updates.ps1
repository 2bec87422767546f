# Windows Update jobs: a scheduled task runs windows-update-task.ps1 as SYSTEM on the node.

function Get-WsfcJobId($Params) {
    # Job ids name files and scheduled tasks on the node: letters, digits and dashes only.
    $id = [string]$Params.id
    if ($id -notmatch '^[A-Za-z0-9-]{1,64}$') {
        throw "Invalid job id '$id'."
    }
    return $id
}

function Get-WsfcUpdateJob([string]$Id) {
    $base = Join-Path $env:ProgramData 'wsfc.rolling'
    $statusPath = Join-Path $base "wu-$Id.json"
    $task = Get-ScheduledTask -TaskName "wsfc.rolling Windows Update $Id" -ErrorAction SilentlyContinue
    if (-not (Test-Path -Path $statusPath)) {
        if ($null -eq $task) {
            throw [System.Management.Automation.ItemNotFoundException]::new("No Windows Update job '$Id' on this node.")
        }
        return [ordered]@{ Id = $Id; TaskState = ConvertTo-WsfcText $task.State; Phase = 'Starting'; Progress = 0; Updates = @(); RebootRequired = $false }
    }
    $status = Get-Content -Raw -Path $statusPath | ConvertFrom-Json
    [ordered]@{
        Id = $Id
        TaskState = if ($null -ne $task) { ConvertTo-WsfcText $task.State } else { 'Removed' }
        Phase = [string]$status.Phase
        Progress = [int]$status.Progress
        Updates = @($status.Updates)
        RebootRequired = [bool]$status.RebootRequired
        Started = [string]$status.Started
        Finished = [string]$status.Finished
        Error = [string]$status.Error
    }
}

$WsfcOperations['wu.start'] = {
    param($p)
    $id = Get-WsfcJobId $p
    $base = Join-Path $env:ProgramData 'wsfc.rolling'
    if ([bool]$p.adopt) {
        # An install of ours still running (its controller died): follow it rather than start a
        # second Windows Update session next to it.
        $running = @(Get-ScheduledTask -TaskName 'wsfc.rolling Windows Update wsfc-install-*' -ErrorAction SilentlyContinue |
                Where-Object { [string]$_.State -eq 'Running' }) | Select-Object -First 1
        if ($null -ne $running) {
            $id = ([string]$running.TaskName).Substring('wsfc.rolling Windows Update '.Length)
        }
    }
    $statusPath = Join-Path $base "wu-$id.json"
    if (-not (Test-Path -Path $statusPath)) {
        [void](New-Item -ItemType Directory -Path $base -Force)
        $scriptPath = Join-Path $base 'wu-task.ps1'
        Set-Content -Path $scriptPath -Value ([string]$p.task_script) -Encoding UTF8
        $request = @{ mode = [string]$p.mode; categories = @($p.categories); accept = @($p.accept); reject = @($p.reject) }
        Set-Content -Path (Join-Path $base "wu-$id.request.json") -Value (ConvertTo-Json -InputObject $request -Depth 4) -Encoding UTF8
        $taskName = "wsfc.rolling Windows Update $id"
        $taskArguments = "-NoProfile -NonInteractive -ExecutionPolicy Bypass -File `"$scriptPath`" -Id $id"
        $action = New-ScheduledTaskAction -Execute 'powershell.exe' -Argument $taskArguments
        $principal = New-ScheduledTaskPrincipal -UserId 'SYSTEM' -LogonType ServiceAccount -RunLevel Highest
        [void](Register-ScheduledTask -TaskName $taskName -Action $action -Principal $principal -Force)
        Start-ScheduledTask -TaskName $taskName
        Start-Sleep -Seconds 1
    }
    Get-WsfcUpdateJob $id
}

$WsfcOperations['wu.status'] = {
    param($p)
    Get-WsfcUpdateJob ([string]$p.id)
}

$WsfcOperations['wu.remove'] = {
    param($p)
    # Once finished and read, the task and its request go; the status file stays as a record.
    $id = Get-WsfcJobId $p
    Unregister-ScheduledTask -TaskName "wsfc.rolling Windows Update $id" -Confirm:$false -ErrorAction SilentlyContinue
    Remove-Item -Path (Join-Path (Join-Path $env:ProgramData 'wsfc.rolling') "wu-$id.request.json") -ErrorAction SilentlyContinue
    [ordered]@{ Id = $id; Removed = $true }
}
