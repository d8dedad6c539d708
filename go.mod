module github.com/wsserver/wsserver

go 1.26
