# wsfc.rolling cau run task 1
# Written to the node by 'cau.run_start' and run there by a scheduled task logged on as the user whose
# credential CAU needs (a logon with network credentials: CAU reaches every node). Invoke-CauRun returns
# only when the Updating Run ends, hours later; this task holds it so that no WinRM command does. It
# records in %ProgramData%\wsfc.rolling\cau-run.json its phase and, when Invoke-CauRun refuses or fails,
# the error; 'cau.run_task' reads it, Get-CauRun shows the run itself.
[CmdletBinding()]
param()

$ErrorActionPreference = 'Stop'
$PSDefaultParameterValues = @{ '*:ErrorAction' = 'Stop' }
$base = Join-Path $env:ProgramData 'wsfc.rolling'
$statusPath = Join-Path $base 'cau-run.json'
$status = [ordered]@{ Phase = 'Running'; Error = $null; Started = (Get-Date).ToUniversalTime().ToString('o'); Ended = $null }

function Save-WsfcStatus {
    $temporary = "$statusPath.tmp"
    Set-Content -Path $temporary -Value (ConvertTo-Json -InputObject $status -Depth 4) -Encoding UTF8
    Move-Item -Path $temporary -Destination $statusPath -Force
}

try {
    Save-WsfcStatus
    $request = Get-Content -Raw -Path (Join-Path $base 'cau-run.request.json') | ConvertFrom-Json
    $splat = @{ Force = $true; CauPluginName = @([string]$request.plugin.name) }
    $arguments = @{}
    if ($null -ne $request.plugin.arguments) {
        foreach ($property in $request.plugin.arguments.PSObject.Properties) {
            $arguments[$property.Name] = [string]$property.Value
        }
    }
    if ($arguments.Count -gt 0) {
        $splat.CauPluginArguments = @($arguments)
    }
    foreach ($property in $request.parameters.PSObject.Properties) {
        $value = $property.Value
        if ($value -is [bool]) {
            $splat[$property.Name] = [switch]$value
        }
        elseif ($value -is [System.Array]) {
            $splat[$property.Name] = [string[]]@($value)
        }
        else {
            $splat[$property.Name] = $value
        }
    }
    # Run on a cluster node as Microsoft's Azure Stack HCI OS upgrade procedure runs it (windows-behaviour.md section 13).
    if ((Get-Command -Name Invoke-CauRun).Parameters.ContainsKey('ForceSelfUpdate')) {
        $splat.ForceSelfUpdate = $true
    }
    Remove-Item -Path (Join-Path $base 'cau-run.request.json') -ErrorAction SilentlyContinue
    [void](Invoke-CauRun @splat -WarningAction SilentlyContinue)
    $status.Phase = 'Finished'
}
catch {
    $status.Phase = 'Failed'
    $status.Error = [string]$_.Exception.Message
}
$status.Ended = (Get-Date).ToUniversalTime().ToString('o')
Save-WsfcStatus
