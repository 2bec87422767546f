# Cluster-Aware Updating reads. The CAU cmdlets run against the local cluster (-ClusterName is
# needed only off the cluster); what they read on other nodes is a second hop from a WinRM session
# without delegation, so they take the user's credential where one is given.

function Get-WsfcCauCredential($Params) {
    $user = Get-WsfcParam $Params 'user' $null
    if ($null -eq $user) {
        return @{}
    }
    $secret = ConvertTo-SecureString -String ([string]$Params.password) -AsPlainText -Force
    return @{ Credential = New-Object System.Management.Automation.PSCredential -ArgumentList ([string]$user), $secret }
}

$WsfcOperations['cau.run_state'] = {
    param($p)
    if ($null -eq (Get-Command -Name Get-CauRun -ErrorAction SilentlyContinue)) {
        return [ordered]@{ RunState = 'NotInstalled'; RunId = $null; CurrentOrchestrator = $null; Nodes = @() }
    }
    $credential = Get-WsfcCauCredential $p
    $output = @(Get-CauRun @credential -WarningAction SilentlyContinue)
    $run = $null
    if ($output.Count -gt 1) {
        $run = $output[1]
    }
    # Each node's state during a run (property names UNVERIFIED: see docs/windows-behaviour.md section 13).
    $nodes = @($run.NodeStatusNotifications | Where-Object { $null -ne $_ } | ForEach-Object {
            [ordered]@{ Node = [string]$_.Node; Status = ConvertTo-WsfcText $_.Status }
        })
    [ordered]@{
        RunState = ConvertTo-WsfcText $output[0]
        RunId = [string]$run.RunId
        CurrentOrchestrator = [string]$run.CurrentOrchestrator
        Nodes = $nodes
    }
}

$WsfcOperations['cau.scan'] = {
    param($p)
    $scan = Get-WsfcCauCredential $p
    $scan.CauPluginName = @([string]$p.plugin)
    $pluginArguments = Get-WsfcParam $p 'plugin_arguments' $null
    if ($null -ne $pluginArguments) {
        $table = @{}
        foreach ($property in $pluginArguments.PSObject.Properties) {
            $table[$property.Name] = [string]$property.Value
        }
        $scan.CauPluginArguments = @($table)
    }
    # Rows without NodeName are not update entries (as Windows Admin Center filters them).
    , @(Invoke-CauScan @scan | Where-Object { $null -ne $_.NodeName } | ForEach-Object {
            [ordered]@{ NodeName = [string]$_.NodeName; UpdateTitle = [string]$_.UpdateTitle; UpdateId = [string]$_.UpdateId }
        })
}

$WsfcOperations['cau.role'] = {
    param($p)
    # GroupType 117 is CLUSGROUP_TYPE ClusterUpdateAgent (clusapi.h); the numeric value is used
    # because the PowerShell name of that enum member is not documented.
    $group = @(Get-ClusterGroup | Where-Object { [int]$_.GroupType -eq 117 }) | Select-Object -First 1
    if ($null -eq $group) {
        return $null
    }
    $credential = Get-WsfcCauCredential $p
    $parameters = [ordered]@{}
    foreach ($item in @(Get-CauClusterRole @credential)) {
        $parameters[[string]$item.Name] = ConvertTo-WsfcText $item.Value
    }
    [ordered]@{
        GroupName = [string]$group.Name
        OwnerNode = [string]$group.OwnerNode.Name
        State = ConvertTo-WsfcText $group.State
        Parameters = $parameters
    }
}
