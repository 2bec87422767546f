# Storage Spaces Direct reads and the pool version update (Storage module, CIM).

$WsfcOperations['storage.pools'] = {
    param($p)
    , @(Get-StoragePool -IsPrimordial $false | ForEach-Object {
            [ordered]@{
                FriendlyName = [string]$_.FriendlyName
                Version = ConvertTo-WsfcText $_.Version
                HealthStatus = ConvertTo-WsfcCode $WsfcHealth (Get-WsfcCim $_ 'HealthStatus')
                OperationalStatus = @(Get-WsfcCim $_ 'OperationalStatus' | ForEach-Object { ConvertTo-WsfcCode $WsfcOperational $_ })
                IsReadOnly = [bool]$_.IsReadOnly
                Size = [long]$_.Size
                AllocatedSize = [long]$_.AllocatedSize
            }
        })
}

$WsfcOperations['storage.virtualdisks'] = {
    param($p)
    , @(Get-VirtualDisk | ForEach-Object {
            [ordered]@{
                FriendlyName = [string]$_.FriendlyName
                HealthStatus = ConvertTo-WsfcCode $WsfcHealth (Get-WsfcCim $_ 'HealthStatus')
                OperationalStatus = @(Get-WsfcCim $_ 'OperationalStatus' | ForEach-Object { ConvertTo-WsfcCode $WsfcOperational $_ })
                ResiliencySettingName = [string]$_.ResiliencySettingName
                Size = [long]$_.Size
                FootprintOnPool = [long]$_.FootprintOnPool
            }
        })
}

$WsfcOperations['storage.jobs'] = {
    param($p)
    , @(Get-StorageJob | ForEach-Object {
            [ordered]@{
                Name = [string]$_.Name
                JobState = ConvertTo-WsfcCode $WsfcJobState (Get-WsfcCim $_ 'JobState')
                PercentComplete = [int]$_.PercentComplete
                BytesProcessed = [long]$_.BytesProcessed
                BytesTotal = [long]$_.BytesTotal
                IsBackgroundTask = [bool]$_.IsBackgroundTask
                ElapsedTime = ConvertTo-WsfcText $_.ElapsedTime
            }
        })
}

$WsfcOperations['storage.pool_update'] = {
    param($p)
    Update-StoragePool -FriendlyName ([string]$p.name) -Confirm:$false
    $pool = Get-StoragePool -FriendlyName ([string]$p.name)
    [ordered]@{ FriendlyName = [string]$pool.FriendlyName; Version = ConvertTo-WsfcText $pool.Version }
}
