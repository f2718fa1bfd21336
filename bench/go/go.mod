module gorbench

go 1.19
