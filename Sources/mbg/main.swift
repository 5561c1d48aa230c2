import Foundation
import MBGCLI

exit(mbgMain(Array(CommandLine.arguments.dropFirst())))
