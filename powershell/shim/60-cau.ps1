# Cluster-Aware Updating reads.

$WsfcOperations['cau.run_state'] = {
    param($p)
    if ($null -eq (Get-Command -Name Get-CauRun -ErrorAction SilentlyContinue)) {
        return [ordered]@{ RunState = 'NotInstalled'; RunId = $null; CurrentOrchestrator = $null }
    }
    $output = @(Get-CauRun -ClusterName (Get-Cluster).Name -WarningAction SilentlyContinue)
    $run = $null
    if ($output.Count -gt 1) {
        $run = $output[1]
    }
    [ordered]@{
        RunState = ConvertTo-WsfcText $output[0]
        RunId = [string]$run.RunId
        CurrentOrchestrator = [string]$run.CurrentOrchestrator
    }
}

$WsfcOperations['cau.scan'] = {
    param($p)
    $scan = @{ ClusterName = (Get-Cluster).Name; CauPluginName = @([string]$p.plugin) }
    $pluginArguments = Get-WsfcParam $p 'plugin_arguments' $null
    if ($null -ne $pluginArguments) {
        $table = @{}
        foreach ($property in $pluginArguments.PSObject.Properties) {
            $table[$property.Name] = [string]$property.Value
        }
        $scan.CauPluginArguments = @($table)
    }
    $user = Get-WsfcParam $p 'user' $null
    if ($null -ne $user) {
        $secret = ConvertTo-SecureString -String ([string]$p.password) -AsPlainText -Force
        $scan.Credential = New-Object System.Management.Automation.PSCredential -ArgumentList ([string]$user), $secret
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
    $parameters = [ordered]@{}
    foreach ($item in @(Get-CauClusterRole)) {
        $parameters[[string]$item.Name] = ConvertTo-WsfcText $item.Value
    }
    [ordered]@{
        GroupName = [string]$group.Name
        OwnerNode = [string]$group.OwnerNode.Name
        State = ConvertTo-WsfcText $group.State
        Parameters = $parameters
    }
}
