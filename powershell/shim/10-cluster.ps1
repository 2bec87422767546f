# Cluster, node and group operations (FailoverClusters module).

function ConvertTo-WsfcNode($Node) {
    [ordered]@{
        Name = [string]$Node.Name
        Id = [string]$Node.Id
        State = ConvertTo-WsfcText $Node.State
        DrainStatus = ConvertTo-WsfcText $Node.DrainStatus
        StatusInformation = ConvertTo-WsfcText $Node.StatusInformation
        NodeWeight = [int]$Node.NodeWeight
        DynamicWeight = [int]$Node.DynamicWeight
        MajorVersion = [int]$Node.MajorVersion
        MinorVersion = [int]$Node.MinorVersion
        BuildNumber = [int]$Node.BuildNumber
        NodeHighestVersion = [long]$Node.NodeHighestVersion
        NodeLowestVersion = [long]$Node.NodeLowestVersion
        FaultDomain = @($Node.FaultDomain | ForEach-Object { [string]$_ })
        Model = [string]$Node.Model
        Manufacturer = [string]$Node.Manufacturer
        SerialNumber = [string]$Node.SerialNumber
    }
}

function ConvertTo-WsfcGroup($Group) {
    $owners = @()
    try {
        $owners = @((Get-ClusterOwnerNode -Group $Group.Name).OwnerNodes | ForEach-Object { [string]$_.Name })
    }
    catch {
        $owners = @()
    }
    [ordered]@{
        Name = [string]$Group.Name
        Id = [string]$Group.Id
        GroupType = ConvertTo-WsfcText $Group.GroupType
        GroupTypeValue = [int]$Group.GroupType
        OwnerNode = [string]$Group.OwnerNode.Name
        State = ConvertTo-WsfcText $Group.State
        Priority = [int]$Group.Priority
        IsCoreGroup = [bool]$Group.IsCoreGroup
        AutoFailbackType = [int]$Group.AutoFailbackType
        PreferredOwners = $owners
    }
}

$WsfcOperations['cluster.get'] = {
    param($p)
    $c = Get-Cluster
    [ordered]@{
        Name = [string]$c.Name
        Id = [string]$c.Id
        Domain = [string]$c.Domain
        ClusterFunctionalLevel = [int]$c.ClusterFunctionalLevel
        ClusterUpgradeVersion = [int]$c.ClusterUpgradeVersion
        S2DEnabled = [int]$c.S2DEnabled
        DynamicQuorum = [int]$c.DynamicQuorum
        WitnessDynamicWeight = [int]$c.WitnessDynamicWeight
        ComputerName = [string]$env:COMPUTERNAME
        # The product of the node that answers (Windows Server 2022 and Azure Stack HCI 21H2 share build 20348).
        ProductName = [string](Get-ItemProperty -Path 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion' -Name ProductName).ProductName
    }
}

$WsfcOperations['cluster.quorum'] = {
    param($p)
    $q = Get-ClusterQuorum
    $resource = $q.QuorumResource
    $resourceType = $null
    $resourceState = $null
    if ($null -ne $resource) {
        $resourceType = [string]$resource.ResourceType.Name
        $resourceState = ConvertTo-WsfcText $resource.State
    }
    [ordered]@{
        QuorumType = ConvertTo-WsfcText $q.QuorumType
        QuorumResource = [string]$resource.Name
        QuorumResourceType = $resourceType
        QuorumResourceState = $resourceState
    }
}

$WsfcOperations['cluster.nodes'] = {
    param($p)
    $names = @(Get-WsfcParam $p 'names' @())
    if ($names.Count -gt 0) {
        $nodes = @(Get-ClusterNode -Name $names)
    }
    else {
        $nodes = @(Get-ClusterNode)
    }
    , @($nodes | ForEach-Object { ConvertTo-WsfcNode $_ })
}

$WsfcOperations['cluster.groups'] = {
    param($p)
    , @(Get-ClusterGroup | ForEach-Object { ConvertTo-WsfcGroup $_ })
}

$WsfcOperations['cluster.csv'] = {
    param($p)
    , @(Get-ClusterSharedVolume | ForEach-Object {
            $info = @($_.SharedVolumeInfo)
            $path = $null
            if ($info.Count -gt 0) {
                $path = [string]$info[0].FriendlyVolumeName
            }
            [ordered]@{
                Name = [string]$_.Name
                Id = [string]$_.Id
                OwnerNode = [string]$_.OwnerNode.Name
                State = ConvertTo-WsfcText $_.State
                FriendlyVolumeName = $path
            }
        })
}

$WsfcOperations['cluster.node.suspend'] = {
    param($p)
    $name = [string]$p.name
    $arguments = @{ Name = $name; Confirm = $false }
    if ([bool](Get-WsfcParam $p 'drain' $true)) {
        $arguments.Drain = $true
    }
    if ([bool](Get-WsfcParam $p 'force_drain' $false)) {
        $arguments.ForceDrain = $true
    }
    $target = [string](Get-WsfcParam $p 'target' '')
    if ($target -ne '') {
        # Drain to that node only (the node updated just before: each VM moves once).
        $arguments.TargetNode = $target
    }
    # Without -Wait the cmdlet returns while the drain runs (Suspend-ClusterNode docs); the
    # controller polls DrainStatus instead of holding one WinRM call open.
    [void](Suspend-ClusterNode @arguments)
    ConvertTo-WsfcNode (Get-ClusterNode -Name $name)
}

$WsfcOperations['cluster.node.resume'] = {
    param($p)
    $name = [string]$p.name
    [void](Resume-ClusterNode -Name $name -Failback ([string]$p.failback))
    ConvertTo-WsfcNode (Get-ClusterNode -Name $name)
}

# MigrationState of each named VM role's Virtual Machine resource: 0 no migration, 1 setup, 2 data transfer,
# 3 move, 4 canceled, 5 failure; a failure stays until the next migration (windows-behaviour.md section 5).
# Parameters are listed and filtered, not read by name.
$WsfcOperations['cluster.vm_migration'] = {
    param($p)
    , @(@($p.names) | ForEach-Object {
            $name = [string]$_
            $state = $null
            $resource = Get-ClusterGroup -Name $name | Get-ClusterResource | Where-Object { $_.ResourceType.Name -eq 'Virtual Machine' } | Select-Object -First 1
            if ($null -ne $resource) {
                $param = $resource | Get-ClusterParameter | Where-Object { $_.Name -eq 'MigrationState' } | Select-Object -First 1
                if ($null -ne $param) {
                    $state = [int]$param.Value
                }
            }
            [ordered]@{ Name = $name; MigrationState = $state }
        })
}

$WsfcOperations['cluster.vm_move_policy'] = {
    param($p)
    $threshold = $null
    try {
        $threshold = [int](Get-ClusterResourceType -Name 'Virtual Machine' | Get-ClusterParameter -Name MoveTypeThreshold).Value
    }
    catch {
        $threshold = $null
    }
    [ordered]@{ MoveTypeThreshold = $threshold }
}

$WsfcOperations['cluster.node.remove'] = {
    param($p)
    $arguments = @{ Name = [string]$p.name; Force = $true }
    if ([bool](Get-WsfcParam $p 'ignore_storage_loss' $false)) {
        $arguments.IgnoreStorageConnectivityLoss = $true
    }
    Remove-ClusterNode @arguments
    $null
}

$WsfcOperations['cluster.node.add'] = {
    param($p)
    # Run on the joining node itself with -Cluster: nodes on the newer OS are added from a
    # node on the newer OS (Cluster OS Rolling Upgrade).
    $arguments = @{ Name = [string]$p.name; Cluster = [string]$p.cluster }
    if ([bool](Get-WsfcParam $p 'no_storage' $false)) {
        $arguments.NoStorage = $true
    }
    $node = Add-ClusterNode @arguments
    ConvertTo-WsfcNode (Get-ClusterNode -Cluster ([string]$p.cluster) -Name ([string]$p.name))
}

$WsfcOperations['cluster.group.move'] = {
    param($p)
    $owner = [string]$p.owner
    , @(@($p.names) | ForEach-Object {
            $group = Get-ClusterGroup -Name ([string]$_)
            if ([int]$group.GroupType -eq 111) {
                $moved = Move-ClusterVirtualMachineRole -Name $group.Name -Node $owner -MigrationType Live -Wait 0
            }
            else {
                $moved = Move-ClusterGroup -Name $group.Name -Node $owner -Wait 0
            }
            ConvertTo-WsfcGroup (Get-ClusterGroup -Name $group.Name)
        })
}

$WsfcOperations['cluster.functional_level'] = {
    param($p)
    $whatIf = [bool](Get-WsfcParam $p 'what_if' $true)
    # -WhatIf tests whether the update would succeed and throws when it would not. It also writes
    # the Cluster object to the pipeline, which is not part of the answer.
    if ($whatIf) {
        [void](Update-ClusterFunctionalLevel -Force -WhatIf)
    }
    else {
        [void](Update-ClusterFunctionalLevel -Force)
    }
    $cluster = Get-Cluster
    [ordered]@{
        ClusterFunctionalLevel = [int]$cluster.ClusterFunctionalLevel
        ClusterUpgradeVersion = [int]$cluster.ClusterUpgradeVersion
        WhatIf = $whatIf
    }
}

$WsfcOperations['cluster.validate'] = {
    param($p)
    # Test-Cluster, one category at a time so that each has its own verdict: its errors are failures and its
    # warnings warnings (as Windows Admin Center reads them). Storage tests skip the disks and pools a role uses
    # unless -Force is given with -Disk: the collection passes those only when asked (they go offline meanwhile).
    $stamp = (Get-Date).ToUniversalTime().ToString('yyyyMMddHHmmss')
    $nodes = @(Get-WsfcParam $p 'nodes' @())
    $disks = @(Get-WsfcParam $p 'disks' @())
    $results = @()
    $index = 0
    foreach ($category in @($p.categories)) {
        $index += 1
        $splat = @{ Include = @([string]$category); ReportName = "wsfc-rolling-validate-$stamp-$index" }
        if ($nodes.Count -gt 0) {
            $splat.Node = [string[]]$nodes
        }
        if ([string]$category -eq 'Storage' -and $disks.Count -gt 0) {
            $splat.Disk = [string[]]$disks
            $splat.Force = $true
        }
        $warned = $null
        $failed = $null
        $report = $null
        try {
            $report = Test-Cluster @splat -WarningVariable warned -ErrorVariable failed -WarningAction SilentlyContinue -ErrorAction SilentlyContinue |
                Where-Object { $_ -is [System.IO.FileInfo] } | Select-Object -First 1
        }
        catch {
            $failed = @($_)
        }
        $results += [ordered]@{
            Category = [string]$category
            Warnings = @($warned | Where-Object { $null -ne $_ } | ForEach-Object { [string]$_.Message })
            Errors = @($failed | Where-Object { $null -ne $_ } | ForEach-Object { [string]$_.Exception.Message })
            Report = if ($null -ne $report) { [string]$report.FullName } else { $null }
        }
    }
    , $results
}

# The fast offline update: the roles stopped in order, the whole cluster stopped and started again.

$WsfcOperations['cluster.group_stop'] = {
    param($p)
    , @(foreach ($name in @($p.names)) {
            $group = Stop-ClusterGroup -Name ([string]$name)
            [ordered]@{ Name = [string]$group.Name; State = ConvertTo-WsfcText $group.State }
        })
}

$WsfcOperations['cluster.group_start'] = {
    param($p)
    , @(foreach ($name in @($p.names)) {
            $group = Start-ClusterGroup -Name ([string]$name)
            [ordered]@{ Name = [string]$group.Name; State = ConvertTo-WsfcText $group.State }
        })
}

$WsfcOperations['cluster.stop'] = {
    param($p)
    # Stop-Cluster stops the cluster service on every node; whatever still runs goes offline.
    [void](Stop-Cluster -Force)
    [ordered]@{ Stopped = $true }
}

$WsfcOperations['cluster.start'] = {
    param($p)
    # Start-Cluster starts the cluster service on every node (it fails where the service is disabled).
    [void](Start-Cluster)
    [ordered]@{ Started = $true }
}
