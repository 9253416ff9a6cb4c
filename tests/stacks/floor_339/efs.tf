# The model file system the function mounts. The post tagged the mount target (which cannot take
# tags) and left the file system untagged; here the file system is tagged and the mount targets not.

resource "aws_efs_file_system" "models" {
  count = local.efs_count

  creation_token = "${var.name_prefix}-models"
  encrypted      = true

  tags = {
    Name = "${var.name_prefix}-models"
  }
}

resource "aws_efs_mount_target" "models" {
  count = var.enable_efs ? local.subnet_count : 0

  file_system_id  = aws_efs_file_system.models[0].id
  subnet_id       = aws_subnet.private[count.index].id
  security_groups = [aws_security_group.efs.id]
}

# The function sees the access point's root (/lambda) at /mnt/shared-storage, as uid/gid 1000.
# 0755 rather than the post's 0777: the function only reads, and DataSync writes as root.
resource "aws_efs_access_point" "lambda" {
  count = local.efs_count

  file_system_id = aws_efs_file_system.models[0].id

  posix_user {
    uid = 1000
    gid = 1000
  }

  root_directory {
    path = local.efs_root_path

    creation_info {
      owner_uid   = 1000
      owner_gid   = 1000
      permissions = "755"
    }
  }

  tags = {
    Name = "${var.name_prefix}-lambda"
  }
}
