# Hyper-V virtual machine versions.

$WsfcOperations['vm.list'] = {
    param($p)
    $default = [string](Get-VMHostSupportedVersion -Default).Version
    , @(Get-VM | ForEach-Object {
            [ordered]@{ Name = [string]$_.Name; State = ConvertTo-WsfcText $_.State; Version = [string]$_.Version; HostDefault = $default }
        })
}

$WsfcOperations['vm.update_version'] = {
    param($p)
    $name = [string]$p.name
    $vm = Get-VM -Name $name
    $running = ($vm.State -ne 'Off')
    if ($running -and -not [bool](Get-WsfcParam $p 'allow_stop' $false)) {
        throw "The virtual machine '$name' must be turned off to update its configuration version."
    }
    if ($running) {
        Stop-VM -Name $name -Force
    }
    Update-VMVersion -Name $name -Force
    if ($running) {
        Start-VM -Name $name
    }
    $vm = Get-VM -Name $name
    [ordered]@{ Name = [string]$vm.Name; State = ConvertTo-WsfcText $vm.State; Version = [string]$vm.Version }
}
