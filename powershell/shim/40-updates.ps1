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
        # The task has not written its status yet: still starting, or it failed before it could
        # (what Task Scheduler knows tells which; the controller decides).
        return [ordered]@{
            Id = $Id; TaskState = ConvertTo-WsfcText $task.State; Phase = 'Starting'; Progress = 0; Updates = @()
            RebootRequired = $false; Task = Get-WsfcTaskFacts "wsfc.rolling Windows Update $Id"
        }
    }
    $status = Get-Content -Raw -Path $statusPath | ConvertFrom-Json
    [ordered]@{
        Id = $Id
        TaskState = if ($null -ne $task) { ConvertTo-WsfcText $task.State } else { 'Removed' }
        Phase = [string]$status.Phase
        Progress = [int]$status.Progress
        Updates = @($status.Updates)
        RebootRequired = [bool]$status.RebootRequired
        RestartPending = [bool]$status.RestartPending
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
        $request = @{
            mode = [string]$p.mode; categories = @($p.categories); accept = @($p.accept); reject = @($p.reject)
            serving = [bool](Get-WsfcParam $p 'serving' $false)
        }
        Set-Content -Path (Join-Path $base "wu-$id.request.json") -Value (ConvertTo-Json -InputObject $request -Depth 4) -Encoding UTF8
        $taskName = "wsfc.rolling Windows Update $id"
        Register-WsfcTask $taskName 'powershell.exe' "-NoProfile -NonInteractive -ExecutionPolicy Bypass -File `"$scriptPath`" -Id $id" $null
        Start-ScheduledTask -TaskName $taskName
        Start-Sleep -Seconds 1
    }
    Get-WsfcUpdateJob $id
}

function Remove-WsfcUpdateTask([string]$Id) {
    # Once finished and read, the task and its request go; the status file stays as a record.
    Unregister-ScheduledTask -TaskName "wsfc.rolling Windows Update $Id" -Confirm:$false -ErrorAction SilentlyContinue
    Remove-Item -Path (Join-Path (Join-Path $env:ProgramData 'wsfc.rolling') "wu-$Id.request.json") -ErrorAction SilentlyContinue
}

$WsfcOperations['wu.status'] = {
    param($p)
    # With 'remove', a finished job's task goes in the same call (saves the round trip of wu.remove).
    $id = Get-WsfcJobId $p
    $job = Get-WsfcUpdateJob $id
    if ([bool](Get-WsfcParam $p 'remove' $false) -and ($job.Phase -eq 'Completed' -or $job.Phase -eq 'Failed')) {
        Remove-WsfcUpdateTask $id
        $job.TaskState = 'Removed'
    }
    $job
}
