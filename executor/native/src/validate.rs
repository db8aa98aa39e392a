//! Deploy-time checks of a native contract binary: a static x86-64 Linux ELF executable, not
//! larger than the limit. Cheap, and run before a binary reaches any sandbox.

/// Why a binary cannot be a native contract.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BinaryError {
    #[error("binary is empty")]
    Empty,
    #[error("binary of {size} bytes exceeds the limit of {max} bytes")]
    TooLarge { size: u64, max: u64 },
    #[error("not an ELF executable (bad magic number)")]
    NotElf,
    #[error("not a 64-bit little-endian ELF file")]
    WrongClass,
    #[error("wrong architecture: ELF machine {machine}, expected x86-64 (62)")]
    WrongArchitecture { machine: u16 },
    #[error("ELF type {elf_type} is not an executable (expected ET_EXEC or static-pie ET_DYN)")]
    NotExecutable { elf_type: u16 },
    #[error("dynamically linked (has an ELF interpreter); native contracts must be static")]
    Dynamic,
    #[error("truncated ELF header or program headers")]
    Truncated,
}

const EM_X86_64: u16 = 62;
const ET_EXEC: u16 = 2;
const ET_DYN: u16 = 3;
const PT_INTERP: u32 = 3;

fn u16_at(b: &[u8], at: usize) -> Result<u16, BinaryError> {
    b.get(at..at + 2)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
        .ok_or(BinaryError::Truncated)
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, BinaryError> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or(BinaryError::Truncated)
}

fn u64_at(b: &[u8], at: usize) -> Result<u64, BinaryError> {
    let s = b.get(at..at + 8).ok_or(BinaryError::Truncated)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Ok(u64::from_le_bytes(a))
}

/// Checks that `binary` can be deployed as a native contract.
pub fn validate_binary(binary: &[u8], max_bytes: u64) -> Result<(), BinaryError> {
    let size = binary.len() as u64;
    if size == 0 {
        return Err(BinaryError::Empty);
    }
    if size > max_bytes {
        return Err(BinaryError::TooLarge {
            size,
            max: max_bytes,
        });
    }
    if !binary.starts_with(b"\x7fELF") {
        return Err(BinaryError::NotElf);
    }
    if binary.get(4) != Some(&2) || binary.get(5) != Some(&1) {
        return Err(BinaryError::WrongClass);
    }
    let elf_type = u16_at(binary, 16)?;
    let machine = u16_at(binary, 18)?;
    if machine != EM_X86_64 {
        return Err(BinaryError::WrongArchitecture { machine });
    }
    if elf_type != ET_EXEC && elf_type != ET_DYN {
        return Err(BinaryError::NotExecutable { elf_type });
    }
    let phoff = usize::try_from(u64_at(binary, 32)?).map_err(|_| BinaryError::Truncated)?;
    let phentsize = usize::from(u16_at(binary, 54)?);
    let phnum = usize::from(u16_at(binary, 56)?);
    if phentsize < 4 {
        return Err(BinaryError::Truncated);
    }
    for i in 0..phnum {
        let at = phentsize
            .checked_mul(i)
            .and_then(|o| o.checked_add(phoff))
            .ok_or(BinaryError::Truncated)?;
        if u32_at(binary, at)? == PT_INTERP {
            return Err(BinaryError::Dynamic);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal 64-bit ELF header with one program header of type `ptype`.
    fn elf(machine: u16, elf_type: u16, ptype: u32) -> Vec<u8> {
        let mut b = vec![0u8; 64 + 56];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[5] = 1;
        b[16..18].copy_from_slice(&elf_type.to_le_bytes());
        b[18..20].copy_from_slice(&machine.to_le_bytes());
        b[32..40].copy_from_slice(&64u64.to_le_bytes());
        b[54..56].copy_from_slice(&56u16.to_le_bytes());
        b[56..58].copy_from_slice(&1u16.to_le_bytes());
        b[64..68].copy_from_slice(&ptype.to_le_bytes());
        b
    }

    #[test]
    fn check() {
        let cases: &[(Vec<u8>, Result<(), BinaryError>)] = &[
            (elf(62, 2, 1), Ok(())),
            (elf(62, 3, 1), Ok(())),
            (elf(62, 2, 3), Err(BinaryError::Dynamic)),
            (
                elf(183, 2, 1),
                Err(BinaryError::WrongArchitecture { machine: 183 }),
            ),
            (
                elf(62, 1, 1),
                Err(BinaryError::NotExecutable { elf_type: 1 }),
            ),
            (b"#!/bin/sh\necho hi\n".to_vec(), Err(BinaryError::NotElf)),
            (vec![], Err(BinaryError::Empty)),
            (elf(62, 2, 1)[..40].to_vec(), Err(BinaryError::Truncated)),
        ];
        for (input, expected) in cases {
            assert_eq!(&validate_binary(input, 1 << 20), expected);
        }
        assert_eq!(
            validate_binary(&elf(62, 2, 1), 10),
            Err(BinaryError::TooLarge { size: 120, max: 10 })
        );
    }
}
