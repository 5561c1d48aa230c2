/// Entry point of the `mbg` program; returns the process exit code.
public func mbgMain(_ arguments: [String]) -> Int32 {
    print("mbg")
    return 0
}
